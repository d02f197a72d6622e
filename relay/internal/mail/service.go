// Package mail sends the relay's email through any SMTP server: to the
// team when a conversation waits or a visitor writes where nobody is
// looking (batched), and to a visitor who left an email — the team's
// reply when they are gone, and the transcript when the conversation
// closes if they asked. Mail is decided from the store's event log and
// kept in a durable outbox (store documents), so a crash or a dead SMTP
// server delays mail and loses none. docs/notifications.md has it all.
package mail

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kefuhq/kefu/relay/internal/egress"
	"github.com/kefuhq/kefu/relay/internal/secret"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// Store is what mail reads and keeps: its settings, the event log, the
// outbox documents, and the conversations and visitors it writes about.
type Store interface {
	store.Settings
	Events(ctx context.Context, after uint64, limit int) ([]store.Event, uint64, error)
	LastEventPos(ctx context.Context) (uint64, error)
	Doc(kind, key string) (store.Doc, error)
	PutDoc(ctx context.Context, kind, key string, data []byte, rev uint64) (uint64, error)
	DeleteDoc(ctx context.Context, kind, key string, rev uint64) error
	Docs(kind string) ([]store.Doc, error)
	Conversation(id string) (store.Conversation, error)
	Visitor(id string) (store.Visitor, error)
	UpdateVisitor(ctx context.Context, id string, fn func(*store.Visitor) error) (store.Visitor, error)
	Messages(convID string, after uint64, limit int) ([]store.Message, error)
	// Append stores a visitor's reply by email.
	Append(ctx context.Context, convID string, msgs ...store.NewMessage) (store.Appended, error)
}

// Presence is who is there now (the router and the hub).
type Presence interface {
	// Online counts the agents online and taking chats.
	Online() int
	// AgentOnline reports whether one agent is online.
	AgentOnline(id string) bool
	// VisitorHere reports whether the visitor of a conversation has it
	// open now (a socket, an event stream, or a poll just now).
	VisitorHere(convID string) bool
}

// Options are what the service works with.
type Options struct {
	Presence Presence
	// Sealer seals the SMTP password in the store (the relay's secret key).
	Sealer *secret.Key
	// Egress decides which SMTP servers may be reached.
	Egress egress.Policy
	Log    *slog.Logger
	// Now is the clock; Every how often the outbox is looked at (2 s).
	Now   func() time.Time
	Every time.Duration
}

// Store names.
const (
	SettingName = "mail"      // the settings, password sealed
	kindJob     = "mail"      // an outbox entry
	kindState   = "mailstate" // the event log cursor, the unsubscribe key
	keyCursor   = "cursor"
	keyUnsub    = "unsubscribe"
)

// stored is the settings as kept: the password sealed.
type stored struct {
	Settings
	Password string `json:"password_sealed,omitempty"`
}

// Service holds the settings and runs the outbox.
type Service struct {
	st   Store
	opts Options

	mu       sync.RWMutex
	set      Settings
	password string // in clear, in memory only
	unsubKey []byte
	// inboundKey is the secret part of the inbound mail URL.
	inboundKey []byte

	statMu  sync.Mutex
	lastErr string
	lastErrAt,
	lastSent time.Time
	dropped int

	wake chan struct{}
}

// New loads the settings and the unsubscribe key (made at the first
// start). A stored password the key cannot open is an error.
func New(ctx context.Context, st Store, o Options) (*Service, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Every <= 0 {
		o.Every = 2 * time.Second
	}
	s := &Service{st: st, opts: o, wake: make(chan struct{}, 1)}
	err := s.Reload()
	if err != nil {
		return nil, err
	}
	if s.unsubKey, err = s.stateKey(ctx, keyUnsub); err != nil {
		return nil, err
	}
	if s.inboundKey, err = s.stateKey(ctx, keyInbound); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload rereads the settings (saved by another node of a cluster).
func (s *Service) Reload() error {
	var sd stored
	sd.Settings = DefaultSettings()
	if _, err := s.st.Setting(SettingName, &sd); err != nil {
		return fmt.Errorf("mail: load settings: %w", err)
	}
	pw := ""
	if sd.Password != "" {
		raw, err := s.opts.Sealer.Open("smtp.password", sd.Password)
		if err != nil {
			return fmt.Errorf("mail: the stored SMTP password: %w", err)
		}
		pw = string(raw)
	}
	s.mu.Lock()
	s.set, s.password = sd.Settings, pw
	s.mu.Unlock()
	s.poke()
	return nil
}

// stateKey reads a random key kept in the store (the same on every node
// of a cluster), making it at the first start. Nodes of a new cluster
// start together: when another node made the key first, this node's read
// can trail its create for a moment, so it reads again for a few seconds
// rather than failing the start.
func (s *Service) stateKey(ctx context.Context, name string) ([]byte, error) {
	wait := 10 * time.Millisecond
	deadline := time.Now().Add(stateKeyPatience)
	for {
		d, err := s.st.Doc(kindState, name)
		if err == nil {
			return d.Data, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("mail: %s key: %w", name, err)
		}
		key := []byte(randomHex(24))
		_, err = s.st.PutDoc(ctx, kindState, name, key, 0)
		if err == nil {
			return key, nil
		}
		if !errors.Is(err, store.ErrExists) {
			return nil, fmt.Errorf("mail: %s key: %w", name, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("mail: %s key: made by another node but not readable after %s: %w", name, stateKeyPatience, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("mail: %s key: %w", name, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// stateKeyPatience bounds how long a start waits for a key another node
// made to become readable here.
const stateKeyPatience = 10 * time.Second

// Settings returns the current settings and whether a password is set.
func (s *Service) Settings() (Settings, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := s.set
	out.AgentTo = append([]string{}, s.set.AgentTo...)
	return out, s.password != ""
}

// SetSettings validates and stores settings. password nil keeps the
// stored one; "" removes it.
func (s *Service) SetSettings(ctx context.Context, set Settings, password *string) error {
	if err := set.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pw := s.password
	if password != nil {
		pw = *password
	}
	sd := stored{Settings: set}
	if pw != "" {
		sealed, err := s.opts.Sealer.Seal("smtp.password", []byte(pw))
		if err != nil {
			return fmt.Errorf("mail: seal the password: %w", err)
		}
		sd.Password = sealed
	}
	if err := s.st.PutSetting(ctx, SettingName, sd); err != nil {
		return fmt.Errorf("mail: store settings: %w", err)
	}
	s.set, s.password = set, pw
	if err := s.retryNow(ctx); err != nil {
		s.opts.Log.Warn("mail: could not retry the outbox now; it retries on its own", "err", err)
	}
	s.poke()
	return nil
}

// poke makes the outbox look again now (new settings may send what
// waited).
func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// config is the settings and password to send with, or ErrNotConfigured.
func (s *Service) config() (Settings, string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.set.Enabled || s.set.Host == "" || s.set.From == "" {
		return s.set, "", ErrNotConfigured
	}
	return s.set, s.password, nil
}

// unsubscribeToken proves a link was made by this relay for visitor id.
func (s *Service) unsubscribeToken(visitorID string) string {
	m := hmac.New(sha256.New, s.unsubKey)
	m.Write([]byte("unsubscribe\x00" + visitorID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

func (s *Service) unsubscribeURL(base, visitorID string) string {
	return base + "/v1/mail/unsubscribe?v=" + visitorID + "&t=" + s.unsubscribeToken(visitorID)
}

func (s *Service) noteErr(err error) {
	s.statMu.Lock()
	s.lastErr, s.lastErrAt = err.Error(), s.opts.Now()
	s.statMu.Unlock()
}

func (s *Service) noteSent() {
	s.statMu.Lock()
	s.lastSent = s.opts.Now()
	s.lastErr = ""
	s.statMu.Unlock()
}

// Run works the outbox until ctx ends: new events become mail, mail due
// is sent.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.Every)
	defer t.Stop()
	for {
		if err := s.ingest(ctx); err != nil && ctx.Err() == nil {
			s.opts.Log.Error("mail: read the event log", "err", err)
		}
		if err := s.deliver(ctx); err != nil && ctx.Err() == nil {
			s.opts.Log.Error("mail: outbox", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

func encode(v any) []byte {
	data, _ := json.Marshal(v)
	return data
}
