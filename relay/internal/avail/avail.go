// Package avail knows whether anyone can answer a visitor now: the agents
// online (from the router), the business hours an admin set (a weekly
// schedule in a time zone, and holidays) and an "away" switch. The widget
// shows it before the visitor writes, and the bot's hand-off says it, so
// nobody is promised a reply that no one will send.
package avail

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kefuhq/kefu/relay/internal/i18n"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// SettingName is the store's name for the settings.
const SettingName = "availability"

// States of Status.State.
const (
	// Online: an agent is online and taking chats.
	Online = "online"
	// Soon: within business hours, nobody online right now; the team
	// usually replies within ReplyMinutes.
	Soon = "soon"
	// Away: the away switch is on, it is outside business hours or a
	// holiday, or nobody is online and no schedule says when someone
	// will be; Until says when the team is back, when known.
	Away = "away"
)

// Status is the team's availability at one moment.
type Status struct {
	State  string `json:"state"`
	Online int    `json:"online"`
	// ReplyMinutes is the usual reply time (Soon).
	ReplyMinutes int `json:"reply_minutes,omitempty"`
	// Until is when the team is back (Away), when known.
	Until *time.Time `json:"until,omitempty"`
	// TimeZone is the schedule's, for texts that show Until.
	TimeZone string `json:"time_zone"`
}

// Service holds the settings and computes the status.
type Service struct {
	store  store.Settings
	online func() int
	now    func() time.Time

	mu  sync.RWMutex
	cur Settings
	loc *time.Location

	// changed nudges Watch: something the status depends on changed.
	changed chan struct{}
}

// New loads the stored settings (or the defaults). online counts the
// agents online and taking chats (assign.Router.Online); now is the clock.
func New(st store.Settings, online func() int, now func() time.Time) (*Service, error) {
	if now == nil {
		now = time.Now
	}
	s := &Service{store: st, online: online, now: now, changed: make(chan struct{}, 1)}
	set := DefaultSettings()
	if _, err := st.Setting(SettingName, &set); err != nil {
		return nil, fmt.Errorf("avail: load settings: %w", err)
	}
	loc, err := set.location()
	if err != nil {
		// A zone the system's database no longer knows: keep serving in UTC.
		loc = time.UTC
	}
	s.cur, s.loc = set, loc
	return s, nil
}

// Reload rereads the settings another node of a cluster saved.
func (s *Service) Reload() error {
	set := DefaultSettings()
	if _, err := s.store.Setting(SettingName, &set); err != nil {
		return fmt.Errorf("avail: reload: %w", err)
	}
	loc, err := set.location()
	if err != nil {
		loc = time.UTC
	}
	s.mu.Lock()
	s.cur, s.loc = set, loc
	s.mu.Unlock()
	s.Changed()
	return nil
}

// Settings returns the current settings.
func (s *Service) Settings() Settings {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cur.clone()
}

// SetSettings validates and stores new settings.
func (s *Service) SetSettings(ctx context.Context, set Settings) error {
	set.normalize()
	if err := set.Validate(); err != nil {
		return err
	}
	loc, err := set.location()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.PutSetting(ctx, SettingName, set); err != nil {
		return fmt.Errorf("avail: store settings: %w", err)
	}
	s.cur, s.loc = set, loc
	s.Changed()
	return nil
}

// Changed tells Watch that something the status depends on changed (an
// agent signed in or out or went away). It never blocks.
func (s *Service) Changed() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Watch calls publish with the status whenever it differs from the last
// one published, until ctx ends: at once after Changed, and every
// interval for what only time changes (business hours opening, the away
// switch's end). The first status is published too.
func (s *Service) Watch(ctx context.Context, interval time.Duration, publish func(Status)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last *Status
	for {
		if st := s.Status(); last == nil || !st.same(*last) {
			publish(st)
			last = &st
		}
		select {
		case <-ctx.Done():
			return
		case <-s.changed:
		case <-t.C:
		}
	}
}

// same reports whether two statuses say the same to a visitor.
func (st Status) same(o Status) bool {
	return st.State == o.State && st.Online == o.Online && st.ReplyMinutes == o.ReplyMinutes &&
		st.TimeZone == o.TimeZone && (st.Until == nil) == (o.Until == nil) && (st.Until == nil || st.Until.Equal(*o.Until))
}

// SwitchedAway reports whether the admin's away switch is on now: nobody
// answers, so the router holds new conversations in the queue (agents
// may still take them by hand).
func (s *Service) SwitchedAway() bool {
	s.mu.RLock()
	set := s.cur
	s.mu.RUnlock()
	return set.Away && (set.AwayUntil == nil || s.now().Before(*set.AwayUntil))
}

// Status is the availability now.
func (s *Service) Status() Status {
	s.mu.RLock()
	set, loc := s.cur, s.loc
	s.mu.RUnlock()
	n := 0
	if s.online != nil {
		n = s.online()
	}
	return set.status(s.now(), loc, n)
}

// Text is the text key in lang: the admin's own wording when set for that
// language, else the catalogues' (the relay's part for relay keys, the
// widget's for widget keys), with {name} placeholders filled from vars.
func (s *Service) Text(lang, key string, vars ...string) string {
	s.mu.RLock()
	t := s.cur.Texts[lang][key]
	s.mu.RUnlock()
	if t != "" {
		return i18n.Fill(t, vars)
	}
	if slices.Contains(WidgetKeys, key) {
		return i18n.Builtin().Widget(lang, key, vars...)
	}
	return i18n.Builtin().Relay(lang, key, vars...)
}

// Overrides are the admin's texts for lang (only the keys set), for the
// widget to lay over its catalogue.
func (s *Service) Overrides(lang string) map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]string{}
	for k, v := range s.cur.Texts[lang] {
		if v != "" && slices.Contains(WidgetKeys, k) {
			out[k] = v
		}
	}
	return out
}

// Location is the schedule's time zone.
func (s *Service) Location() *time.Location {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.loc
}

// status decides the state at now with n agents online.
func (set Settings) status(now time.Time, loc *time.Location, n int) Status {
	st := Status{Online: n, TimeZone: loc.String()}
	away := set.Away
	if away && set.AwayUntil != nil && !now.Before(*set.AwayUntil) {
		away = false // the switch's time is over
	}
	switch {
	case away:
		st.State = Away
		if set.AwayUntil != nil {
			u := *set.AwayUntil
			st.Until = &u
		} else if next, ok := set.nextOpen(now, loc); ok {
			st.Until = &next
		}
	case n > 0:
		// Someone is here, whatever the schedule says: they can answer.
		st.State = Online
	case len(set.Hours) == 0:
		st.State = Away // nobody online and no schedule: we cannot say when
	case set.open(now, loc):
		st.State = Soon
		st.ReplyMinutes = set.ReplyMinutes
	default:
		st.State = Away
		if next, ok := set.nextOpen(now, loc); ok {
			st.Until = &next
		}
	}
	return st
}
