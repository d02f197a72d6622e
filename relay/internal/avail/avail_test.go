package avail

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/protocol"
)

func openStore(t *testing.T) *boltdb.Store {
	t.Helper()
	st, err := boltdb.Open(filepath.Join(t.TempDir(), "data"), boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// A week of 09:00–17:00 Monday to Friday in Berlin, Christmas off.
func weekdays() Settings {
	set := DefaultSettings()
	set.TimeZone = "Europe/Berlin"
	for d := 1; d <= 5; d++ {
		set.Hours = append(set.Hours, Span{Day: d, From: "09:00", To: "17:00"})
	}
	set.Holidays = []string{"2026-12-25"}
	set.ReplyMinutes = 30
	return set
}

func TestStatus(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	until := at("2026-12-10 12:00")
	tests := []struct {
		name   string
		edit   func(*Settings)
		now    string
		online int
		state  string
		back   string // "" none
	}{
		{"open, nobody online", nil, "2026-12-07 10:00", 0, Soon, ""},
		{"open, someone online", nil, "2026-12-07 10:00", 1, Online, ""},
		{"evening: back tomorrow 09:00", nil, "2026-12-07 18:30", 0, Away, "2026-12-08 09:00"},
		{"at closing time exactly", nil, "2026-12-07 17:00", 0, Away, "2026-12-08 09:00"},
		{"friday night: back monday", nil, "2026-12-11 20:00", 0, Away, "2026-12-14 09:00"},
		{"christmas is a holiday", nil, "2026-12-25 10:00", 0, Away, "2026-12-28 09:00"},
		{"the day before christmas skips it", nil, "2026-12-24 18:00", 0, Away, "2026-12-28 09:00"},
		{"someone online outside hours answers", nil, "2026-12-07 22:00", 2, Online, ""},
		{"away switch beats everyone online", func(s *Settings) { s.Away = true }, "2026-12-07 10:00", 3, Away, "2026-12-08 09:00"},
		{"away until a time", func(s *Settings) { s.Away = true; s.AwayUntil = &until }, "2026-12-07 10:00", 0, Away, "2026-12-10 12:00"},
		{"away until has passed", func(s *Settings) { s.Away = true; s.AwayUntil = &until }, "2026-12-10 12:00", 0, Soon, ""},
		{"no schedule, nobody online", func(s *Settings) { s.Hours = nil }, "2026-12-07 10:00", 0, Away, ""},
		{"no schedule, someone online", func(s *Settings) { s.Hours = nil }, "2026-12-07 03:00", 1, Online, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := weekdays()
			if tt.edit != nil {
				tt.edit(&set)
			}
			set.normalize()
			if err := set.Validate(); err != nil {
				t.Fatal(err)
			}
			st := set.status(at(tt.now), berlin, tt.online)
			if st.State != tt.state {
				t.Fatalf("state %q, want %q (%+v)", st.State, tt.state, st)
			}
			switch {
			case tt.back == "" && st.Until != nil:
				t.Errorf("until %v, want none", st.Until)
			case tt.back != "" && (st.Until == nil || !st.Until.Equal(at(tt.back))):
				t.Errorf("until %v, want %s", st.Until, tt.back)
			}
			if tt.state == Soon && st.ReplyMinutes != 30 {
				t.Errorf("reply minutes %d", st.ReplyMinutes)
			}
		})
	}
}

// The schedule follows the zone's clock across a DST change.
func TestStatusAcrossDST(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	set := DefaultSettings()
	set.TimeZone = "America/New_York"
	set.Hours = []Span{{Day: 0, From: "09:00", To: "12:00"}}
	// Saturday 2026-03-07 noon; clocks spring forward on Sunday 03-08.
	st := set.status(time.Date(2026, 3, 7, 12, 0, 0, 0, ny), ny, 0)
	if st.Until == nil || st.Until.In(ny).Format("2006-01-02 15:04 MST") != "2026-03-08 09:00 EDT" {
		t.Fatalf("until %v", st.Until)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Settings)
		want string
	}{
		{"bad zone", func(s *Settings) { s.TimeZone = "Mars/Olympus" }, "time_zone"},
		{"Local is not a zone", func(s *Settings) { s.TimeZone = "Local" }, "time_zone"},
		{"bad day", func(s *Settings) { s.Hours = []Span{{Day: 7, From: "09:00", To: "10:00"}} }, "day must be"},
		{"bad time", func(s *Settings) { s.Hours = []Span{{Day: 1, From: "9:00", To: "10:00"}} }, "times like"},
		{"from after to", func(s *Settings) { s.Hours = []Span{{Day: 1, From: "22:00", To: "02:00"}} }, "split a night shift"},
		{"overlap", func(s *Settings) {
			s.Hours = []Span{{Day: 1, From: "09:00", To: "12:00"}, {Day: 1, From: "11:00", To: "13:00"}}
		}, "overlaps"},
		{"bad holiday", func(s *Settings) { s.Holidays = []string{"25.12.2026"} }, "holiday"},
		{"reply minutes", func(s *Settings) { s.ReplyMinutes = 0 }, "reply_minutes"},
		{"unknown language", func(s *Settings) { s.Texts = map[string]map[string]string{"xx": {"availOnline": "hi"}} }, "not a language"},
		{"unknown text", func(s *Settings) { s.Texts = map[string]map[string]string{"en": {"title": "hi"}} }, "unknown text"},
		{"long text", func(s *Settings) {
			s.Texts = map[string]map[string]string{"en": {"availOnline": strings.Repeat("x", 501)}}
		}, "at most 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := weekdays()
			tt.edit(&set)
			set.normalize()
			err := set.Validate()
			var pe *protocol.Error
			if !errors.As(err, &pe) || !strings.Contains(pe.Message, tt.want) {
				t.Fatalf("Validate = %v, want a bad_field error with %q", err, tt.want)
			}
		})
	}
	ok := weekdays()
	ok.Hours = append(ok.Hours, Span{Day: 6, From: "00:00", To: "24:00"})
	if err := ok.Validate(); err != nil {
		t.Fatalf("a whole day: %v", err)
	}
}

// Settings are stored, read back by a new service, and refused ones
// change nothing; the admin's wording replaces the catalogue's for that
// language only.
func TestServiceStoresSettingsAndTexts(t *testing.T) {
	st := openStore(t)
	online := 0
	s, err := New(st, func() int { return online }, func() time.Time { return time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC) })
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Status(); got.State != Away || got.Until != nil {
		t.Fatalf("default with nobody online: %+v", got)
	}
	set := weekdays()
	set.Texts = map[string]map[string]string{"de": {"availSoon": "Wir melden uns in {time}.", "handoffContact": "  "}}
	if err := s.SetSettings(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	bad := weekdays()
	bad.TimeZone = "Nowhere/Else"
	if err := s.SetSettings(context.Background(), bad); err == nil {
		t.Fatal("a bad zone was stored")
	}
	s2, err := New(st, func() int { return online }, func() time.Time { return time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC) })
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.Settings(); got.TimeZone != "Europe/Berlin" || len(got.Hours) != 5 || got.ReplyMinutes != 30 {
		t.Fatalf("read back %+v", got)
	}
	if got := s2.Status(); got.State != Soon {
		t.Fatalf("monday 10:30 in Berlin: %+v", got)
	}
	online = 1
	if got := s2.Status(); got.State != Online || got.Online != 1 {
		t.Fatalf("with someone online: %+v", got)
	}
	if got := s2.Text("de", "availSoon", "time", "5 Min."); got != "Wir melden uns in 5 Min.." {
		t.Errorf("de availSoon = %q", got)
	}
	if got := s2.Text("fr", "availSoon", "time", "5 min"); !strings.Contains(got, "5 min") || strings.Contains(got, "Wir") {
		t.Errorf("fr availSoon = %q", got)
	}
	if got := s2.Text("de", "handoffContact"); got == "" || got == "  " {
		t.Errorf("a blank override must fall back to the catalogue: %q", got)
	}
	if o := s2.Overrides("de"); len(o) != 1 || o["availSoon"] == "" {
		t.Errorf("overrides %v", o)
	}
}
