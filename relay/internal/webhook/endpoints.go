package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/egress"
	"github.com/kefuhq/kefu/relay/internal/notify"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// settingName is the settings document holding the endpoints.
const settingName = "webhooks"

// Limits.
const (
	MaxEndpoints      = 20
	maxURLLen         = 2000
	maxDescriptionLen = 200
	maxSecretLen      = 200
	minSecretLen      = 16
)

// Endpoint is a URL the relay posts events to. The secret never leaves
// the relay after it was shown once (HasSecret says whether there is one).
type Endpoint struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	// Events are the event types sent; empty means all of them.
	Events    []string  `json:"events"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"created_at"`
	HasSecret bool      `json:"has_secret"`

	secret string
	// from is the event log's position when the URL was last enabled:
	// only later events are its own.
	from uint64
}

// storedEndpoint is an endpoint as the settings document holds it: the
// secret sealed with the installation's key.
type storedEndpoint struct {
	Endpoint
	Secret string `json:"secret"`
	From   uint64 `json:"from_pos,omitempty"`
}

// Patch changes an endpoint; nil fields stay as they are. Secret, when
// set, replaces the secret (write-only); "" asks for a new random one.
type Patch struct {
	URL         *string   `json:"url,omitempty"`
	Description *string   `json:"description,omitempty"`
	Events      *[]string `json:"events,omitempty"`
	Enabled     *bool     `json:"enabled,omitempty"`
	Secret      *string   `json:"secret,omitempty"`
}

// String says what a patch changes, never the secret.
func (p Patch) String() string {
	var parts []string
	if p.URL != nil {
		parts = append(parts, "url")
	}
	if p.Description != nil {
		parts = append(parts, "description")
	}
	if p.Events != nil {
		parts = append(parts, "events")
	}
	if p.Enabled != nil {
		parts = append(parts, fmt.Sprintf("enabled=%v", *p.Enabled))
	}
	if p.Secret != nil {
		parts = append(parts, "secret")
	}
	return strings.Join(parts, ",")
}

func badField(format string, args ...any) error {
	return protocol.Errorf(protocol.CodeBadField, fmt.Sprintf(format, args...))
}

// check validates an endpoint against the destination policy.
func (e *Endpoint) check(policy egress.Policy) error {
	e.URL = strings.TrimSpace(e.URL)
	switch {
	case e.URL == "" || len(e.URL) > maxURLLen:
		return badField("url: 1 to %d characters", maxURLLen)
	case utf8.RuneCountInString(e.Description) > maxDescriptionLen:
		return badField("description: at most %d characters", maxDescriptionLen)
	}
	if _, err := policy.CheckURL(e.URL); err != nil {
		var re *egress.RefusedError
		if errors.As(err, &re) && re.Private {
			return badField("url: %v; the relay refuses private addresses unless started with --allow-private-destinations=true", err)
		}
		return badField("url: %v", err)
	}
	seen := map[string]bool{}
	for _, t := range e.Events {
		if !store.ValidEventType(t) {
			return badField("events: unknown type %q (known: %s)", t, strings.Join(store.EventTypes, ", "))
		}
		if seen[t] {
			return badField("events: %q twice", t)
		}
		seen[t] = true
	}
	return nil
}

func checkSecret(s string) error {
	if len(s) < minSecretLen || len(s) > maxSecretLen || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return badField("secret: %d to %d printable ASCII characters without spaces", minSecretLen, maxSecretLen)
	}
	return nil
}

// wants reports whether the endpoint takes events of type t.
func (e *Endpoint) wants(t string) bool {
	return len(e.Events) == 0 || slices.Contains(e.Events, t)
}

// load reads the endpoints and opens their secrets. A secret the key
// cannot open fails, unless forget is set: then the endpoint is kept,
// disabled, without a secret, and the admin sets a new one.
func (s *Service) load() ([]Endpoint, error) {
	var doc struct {
		Endpoints []storedEndpoint `json:"endpoints"`
	}
	if _, err := s.settings.Setting(settingName, &doc); err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	out := make([]Endpoint, 0, len(doc.Endpoints))
	for _, se := range doc.Endpoints {
		e := se.Endpoint
		e.from = se.From
		if se.Secret != "" {
			plain, err := s.opts.Key.Open(sealName(e.ID), se.Secret)
			switch {
			case err != nil && s.opts.ForgetSecrets:
				// New logs it once; the URL stays off until it has a new secret.
				e.Enabled = false
			case err != nil:
				return nil, fmt.Errorf("webhook: endpoint %s: %w: %w", e.ID, ErrKeyUnreadable, err)
			default:
				e.secret = string(plain)
			}
		}
		e.HasSecret = e.secret != ""
		out = append(out, e)
	}
	return out, nil
}

// ErrKeyUnreadable means a stored webhook secret cannot be opened with the
// configured key (the app explains --forget-secrets).
var ErrKeyUnreadable = errors.New("a stored webhook secret cannot be opened with the secret key")

func sealName(id string) string { return "webhook." + id }

// save stores the endpoints with their secrets sealed.
func (s *Service) save(ctx context.Context, eps []Endpoint) error {
	var doc struct {
		Endpoints []storedEndpoint `json:"endpoints"`
	}
	for _, e := range eps {
		se := storedEndpoint{Endpoint: e, From: e.from}
		if e.secret != "" {
			sealed, err := s.opts.Key.Seal(sealName(e.ID), []byte(e.secret))
			if err != nil {
				return fmt.Errorf("webhook: seal the secret: %w", err)
			}
			se.Secret = sealed
		}
		doc.Endpoints = append(doc.Endpoints, se)
	}
	if err := s.settings.PutSetting(ctx, settingName, doc); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	return nil
}

// List returns the endpoints (without secrets), as stored now: another
// node of a cluster may have changed them.
func (s *Service) List() []Endpoint {
	if err := s.reload(); err != nil {
		s.opts.Logger.Warn("webhook: read the URLs; showing the last read", "err", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.endpoints)
}

// fresh reads the endpoints again before a change, under s.mu, so a change
// made on another node is not overwritten with this node's older list.
func (s *Service) fresh() error {
	eps, err := s.load()
	if err != nil {
		return err
	}
	if !sameEndpoints(s.endpoints, eps) {
		s.endpoints = eps
		s.changed()
	}
	return nil
}

// Create adds an endpoint. Without a secret in p one is generated; the
// secret is returned this once.
func (s *Service) Create(ctx context.Context, p Patch) (Endpoint, string, error) {
	e := Endpoint{ID: store.NewID(), Enabled: true, CreatedAt: s.opts.Now().UTC(), Events: []string{}}
	if p.URL == nil {
		return Endpoint{}, "", badField("url: required")
	}
	e.URL = *p.URL
	if p.Description != nil {
		e.Description = *p.Description
	}
	if p.Events != nil {
		e.Events = *p.Events
	}
	if p.Enabled != nil {
		e.Enabled = *p.Enabled
	}
	e.secret = NewSecret()
	if p.Secret != nil && *p.Secret != "" {
		if err := checkSecret(*p.Secret); err != nil {
			return Endpoint{}, "", err
		}
		e.secret = *p.Secret
	}
	if err := e.check(s.opts.Egress); err != nil {
		return Endpoint{}, "", err
	}
	e.HasSecret = true
	var err error
	if e.from, err = s.log.LastEventPos(ctx); err != nil {
		return Endpoint{}, "", fmt.Errorf("webhook: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fresh(); err != nil {
		return Endpoint{}, "", err
	}
	if len(s.endpoints) >= MaxEndpoints {
		return Endpoint{}, "", badField("at most %d webhook URLs", MaxEndpoints)
	}
	eps := append(slices.Clone(s.endpoints), e)
	if err := s.save(ctx, eps); err != nil {
		return Endpoint{}, "", err
	}
	s.endpoints = eps
	if err := s.startPosition(ctx, e); err != nil {
		return Endpoint{}, "", err
	}
	s.changed()
	return e, e.secret, nil
}

// startPosition gives an enabled endpoint its position in the event log
// now, if it has none: it gets every event committed after this call,
// even those stored before its reader starts (on a cluster, the reader
// may be on another node that reloads the settings seconds later).
func (s *Service) startPosition(ctx context.Context, e Endpoint) error {
	if !e.Enabled {
		return nil
	}
	if _, err := notify.LoadCursor(ctx, s.log, readerName(e.ID)); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	return nil
}

// reset drops a disabled endpoint's position and delivery state: it is
// not sent what happens while it is off (and the event log is not kept
// for it), and starts afresh when enabled again. The delivery log stays.
func (s *Service) reset(ctx context.Context, id string) error {
	if err := notify.DeleteCursor(ctx, s.log, readerName(id)); err != nil {
		return err
	}
	if err := s.log.DeleteDoc(ctx, kindState, id, 0); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	return nil
}

// Update changes an endpoint. A new random secret (Secret "") is returned
// this once; otherwise the returned secret is "".
func (s *Service) Update(ctx context.Context, id string, p Patch) (Endpoint, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fresh(); err != nil {
		return Endpoint{}, "", err
	}
	i := slices.IndexFunc(s.endpoints, func(e Endpoint) bool { return e.ID == id })
	if i < 0 {
		return Endpoint{}, "", fmt.Errorf("webhook %s: %w", id, store.ErrNotFound)
	}
	e := s.endpoints[i]
	e.Events = slices.Clone(e.Events)
	if p.URL != nil {
		e.URL = *p.URL
	}
	if p.Description != nil {
		e.Description = *p.Description
	}
	if p.Events != nil {
		e.Events = *p.Events
	}
	if p.Enabled != nil {
		e.Enabled = *p.Enabled
	}
	shown := ""
	if p.Secret != nil {
		if *p.Secret == "" {
			e.secret = NewSecret()
			shown = e.secret
		} else {
			if err := checkSecret(*p.Secret); err != nil {
				return Endpoint{}, "", err
			}
			e.secret = *p.Secret
		}
		e.HasSecret = true
	}
	if err := e.check(s.opts.Egress); err != nil {
		return Endpoint{}, "", err
	}
	if e.Enabled && e.secret == "" {
		return Endpoint{}, "", badField("secret: this URL has none (forgotten with the old key): set one to enable it")
	}
	was := s.endpoints[i].Enabled
	if e.Enabled && !was {
		var err error
		if e.from, err = s.log.LastEventPos(ctx); err != nil {
			return Endpoint{}, "", fmt.Errorf("webhook: %w", err)
		}
	}
	eps := slices.Clone(s.endpoints)
	eps[i] = e
	if err := s.save(ctx, eps); err != nil {
		return Endpoint{}, "", err
	}
	s.endpoints = eps
	switch {
	case e.Enabled:
		if err := s.startPosition(ctx, e); err != nil {
			return Endpoint{}, "", err
		}
	case was:
		// The runner resets it again once its reader has stopped.
		if err := s.reset(ctx, id); err != nil {
			return Endpoint{}, "", err
		}
	}
	s.changed()
	return e, shown, nil
}

// Delete removes an endpoint, its position in the log and its delivery
// log.
func (s *Service) Delete(ctx context.Context, id string) error {
	s.mu.Lock()
	if err := s.fresh(); err != nil {
		s.mu.Unlock()
		return err
	}
	i := slices.IndexFunc(s.endpoints, func(e Endpoint) bool { return e.ID == id })
	if i < 0 {
		s.mu.Unlock()
		return fmt.Errorf("webhook %s: %w", id, store.ErrNotFound)
	}
	eps := slices.Delete(slices.Clone(s.endpoints), i, i+1)
	if err := s.save(ctx, eps); err != nil {
		s.mu.Unlock()
		return err
	}
	s.endpoints = eps
	s.changed()
	s.mu.Unlock()
	// The runner stops its reader for it at the next change check; what
	// it kept goes now (a reader still running recreates nothing: its
	// context ends first when it sees the endpoint gone).
	return s.forget(ctx, id)
}

// reload reads the endpoints again (another node may have changed them).
func (s *Service) reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fresh()
}

func sameEndpoints(a, b []Endpoint) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) || len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].secret != b[i].secret {
			return false
		}
	}
	return true
}
