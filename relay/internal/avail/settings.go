package avail

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/i18n"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Settings are what an admin sets.
type Settings struct {
	// TimeZone is an IANA name ("Europe/Berlin"); the schedule and the
	// holidays are in it.
	TimeZone string `json:"time_zone"`
	// Hours is the weekly schedule; none means no business hours (the team
	// is available whenever someone is online).
	Hours []Span `json:"hours"`
	// Holidays are dates (YYYY-MM-DD) the team is away all day.
	Holidays []string `json:"holidays"`
	// Away is the "away" switch: nobody answers until it is turned off,
	// or until AwayUntil when set.
	Away      bool       `json:"away"`
	AwayUntil *time.Time `json:"away_until,omitempty"`
	// ReplyMinutes is what the widget promises within business hours when
	// nobody is online ("usually replies within …").
	ReplyMinutes int `json:"reply_minutes"`
	// Texts are the admin's own wording, by language then key (Keys).
	Texts map[string]map[string]string `json:"texts"`
}

// Span is one opening of the weekly schedule: Day 0 is Sunday; From and
// To are "15:04" ("24:00" ends at midnight), From before To.
type Span struct {
	Day  int    `json:"day"`
	From string `json:"from"`
	To   string `json:"to"`
}

// WidgetKeys are the widget's catalogue texts an admin may reword here.
var WidgetKeys = []string{"availOnline", "availSoon", "availAway", "availAwayUntil", "contactAsk"}

// RelayKeys are the relay's catalogue texts an admin may reword here.
var RelayKeys = []string{"handoffOnline", "handoffSoon", "handoffAway", "handoffOffline", "handoffContact"}

// Keys are every text an admin may reword.
func Keys() []string { return append(slices.Clone(WidgetKeys), RelayKeys...) }

// Bounds of the settings.
const (
	MaxSpans         = 50
	MaxHolidays      = 366
	MaxReplyMinutes  = 7 * 24 * 60
	MaxTextRunes     = 500
	DefaultReplyMins = 60
)

// DefaultSettings are in force until an admin saves others: no schedule,
// UTC, a reply within an hour.
func DefaultSettings() Settings {
	return Settings{TimeZone: "UTC", Hours: []Span{}, Holidays: []string{}, ReplyMinutes: DefaultReplyMins, Texts: map[string]map[string]string{}}
}

func (set Settings) clone() Settings {
	out := set
	out.Hours = slices.Clone(set.Hours)
	out.Holidays = slices.Clone(set.Holidays)
	out.Texts = map[string]map[string]string{}
	for l, m := range set.Texts {
		out.Texts[l] = maps.Clone(m)
	}
	return out
}

// normalize sorts the schedule and the holidays and drops empty texts.
func (set *Settings) normalize() {
	if set.TimeZone == "" {
		set.TimeZone = "UTC"
	}
	if set.Hours == nil {
		set.Hours = []Span{}
	}
	if set.Holidays == nil {
		set.Holidays = []string{}
	}
	slices.SortFunc(set.Hours, func(a, b Span) int {
		if a.Day != b.Day {
			return a.Day - b.Day
		}
		return strings.Compare(a.From, b.From)
	})
	slices.Sort(set.Holidays)
	set.Holidays = slices.Compact(set.Holidays)
	texts := map[string]map[string]string{}
	for l, m := range set.Texts {
		for k, v := range m {
			if v = strings.TrimSpace(v); v != "" {
				if texts[l] == nil {
					texts[l] = map[string]string{}
				}
				texts[l][k] = v
			}
		}
	}
	set.Texts = texts
	if !set.Away {
		set.AwayUntil = nil
	}
}

func (set Settings) location() (*time.Location, error) {
	loc, err := time.LoadLocation(set.TimeZone)
	if err != nil || set.TimeZone == "Local" {
		return nil, protocol.Errorf(protocol.CodeBadField, fmt.Sprintf("time_zone %q is not a time zone name like Europe/Berlin", set.TimeZone))
	}
	return loc, nil
}

// minutes parses "15:04" (or "24:00") into minutes after midnight.
func minutes(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, m := atoi2(s[:2]), atoi2(s[3:])
	if h < 0 || m < 0 || m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, false
	}
	return h*60 + m, true
}

func atoi2(s string) int {
	if s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return -1
	}
	return int(s[0]-'0')*10 + int(s[1]-'0')
}

// Validate checks settings before they are stored.
func (set Settings) Validate() error {
	bad := func(msg string, args ...any) error {
		return protocol.Errorf(protocol.CodeBadField, fmt.Sprintf(msg, args...))
	}
	if _, err := set.location(); err != nil {
		return err
	}
	if len(set.Hours) > MaxSpans {
		return bad("at most %d opening hours", MaxSpans)
	}
	for i, sp := range set.Hours {
		from, ok1 := minutes(sp.From)
		to, ok2 := minutes(sp.To)
		switch {
		case sp.Day < 0 || sp.Day > 6:
			return bad("hours[%d]: day must be 0 (Sunday) to 6 (Saturday)", i)
		case !ok1 || !ok2 || from == 24*60:
			return bad("hours[%d]: from and to must be times like 09:00 and 17:30", i)
		case from >= to:
			return bad("hours[%d]: from (%s) must be before to (%s); split a night shift at midnight", i, sp.From, sp.To)
		}
		if i > 0 && set.Hours[i-1].Day == sp.Day {
			if prevTo, _ := minutes(set.Hours[i-1].To); prevTo > from {
				return bad("hours[%d]: overlaps the hours before it on the same day", i)
			}
		}
	}
	if len(set.Holidays) > MaxHolidays {
		return bad("at most %d holidays", MaxHolidays)
	}
	for _, d := range set.Holidays {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return bad("holiday %q must be a date like 2026-12-25", d)
		}
	}
	if set.ReplyMinutes < 1 || set.ReplyMinutes > MaxReplyMinutes {
		return bad("reply_minutes must be 1 to %d", MaxReplyMinutes)
	}
	keys := Keys()
	for l, m := range set.Texts {
		if !i18n.Builtin().Has(l) {
			return bad("texts: %q is not a language of the widget (%s)", l, strings.Join(i18n.Builtin().Langs(), ", "))
		}
		for k, v := range m {
			if !slices.Contains(keys, k) {
				return bad("texts.%s: unknown text %q (one of %s)", l, k, strings.Join(keys, ", "))
			}
			if utf8.RuneCountInString(v) > MaxTextRunes {
				return bad("texts.%s.%s: at most %d characters", l, k, MaxTextRunes)
			}
		}
	}
	return nil
}

// holiday reports whether day (a date in the schedule's zone) is a holiday.
func (set Settings) holiday(t time.Time) bool {
	_, found := slices.BinarySearch(set.Holidays, t.Format(time.DateOnly))
	return found
}

// open reports whether now is within business hours.
func (set Settings) open(now time.Time, loc *time.Location) bool {
	t := now.In(loc)
	if set.holiday(t) {
		return false
	}
	m := t.Hour()*60 + t.Minute()
	for _, sp := range set.Hours {
		from, _ := minutes(sp.From)
		to, _ := minutes(sp.To)
		if sp.Day == int(t.Weekday()) && m >= from && m < to {
			return true
		}
	}
	return false
}

// nextOpen is the start of the next business hours after now (within a
// year: holidays can close many weeks).
func (set Settings) nextOpen(now time.Time, loc *time.Location) (time.Time, bool) {
	if len(set.Hours) == 0 {
		return time.Time{}, false
	}
	t := now.In(loc)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	for i := 0; i < 370; i++ {
		d := day.AddDate(0, 0, i)
		if set.holiday(d) {
			continue
		}
		for _, sp := range set.Hours {
			if sp.Day != int(d.Weekday()) {
				continue
			}
			from, _ := minutes(sp.From)
			start := time.Date(d.Year(), d.Month(), d.Day(), from/60, from%60, 0, 0, loc)
			if start.After(now) {
				return start, true
			}
		}
	}
	return time.Time{}, false
}
