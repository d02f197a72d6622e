// Package push sends Web Push notifications (VAPID, RFC 8030/8291/8292)
// to the agents who turned them on in the console: a new conversation
// waiting for a person reaches their desktop or phone with the console
// closed. Subscriptions are stored per agent as documents (both storage
// backends); the events come from the store's event log through a
// notify.Feed, so a notification is sent at least once even across a
// crash. Encryption and VAPID signing are github.com/SherClockHolmes/webpush-go.
package push

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"github.com/kefuhq/kefu/relay/internal/egress"
	"github.com/kefuhq/kefu/relay/internal/notify"
	"github.com/kefuhq/kefu/relay/internal/secret"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Store is what push keeps: its keys (a setting), the subscriptions
// (documents) and the event log it reads.
type Store interface {
	store.Settings
	notify.Log
	// Account tells whether a subscription's agent still exists and is
	// enabled: a deleted or disabled account is sent nothing.
	Account(id string) (store.Account, error)
}

// Names in the store.
const (
	settingName = "push"    // the VAPID key pair, the private key sealed
	kindSub     = "pushsub" // one document per subscription
	readerName  = "push"    // the event log reader
)

// Options configure New.
type Options struct {
	// Egress says which push services may be reached (public only unless
	// --allow-private-destinations).
	Egress egress.Policy
	// Key seals the VAPID private key in the store.
	Key *secret.Key
	// Subject is the VAPID contact: the relay's public URL, or a mailto.
	Subject string
	// Wake wakes the reader when this node stored events.
	Wake   *notify.Waker
	Poll   time.Duration
	Logger *slog.Logger
	// Timeout bounds one request to a push service (default 10 s);
	// FirstRetry the wait after a failure, doubling (default 5 s); GiveUp
	// how long one event is retried for a subscription (default 1 h: a
	// notification an hour late has lost its point).
	Timeout, FirstRetry, GiveUp time.Duration
	Now                         func() time.Time
	// ForgetSecrets (--forget-secrets) makes a new VAPID key pair when the
	// stored one cannot be opened with Key, and drops the subscriptions
	// made with the old one (push services refuse them now): agents turn
	// Push on again.
	ForgetSecrets bool
}

// Service keeps the keys and subscriptions and sends notifications.
type Service struct {
	st     Store
	opts   Options
	public string // VAPID public key, base64url
	priv   string
	client *http.Client
}

type storedKeys struct {
	Public  string `json:"public"`
	Private string `json:"private_sealed"`
}

// New loads the VAPID key pair, making and storing one the first time.
func New(ctx context.Context, st Store, opts Options) (*Service, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.FirstRetry <= 0 {
		opts.FirstRetry = 5 * time.Second
	}
	if opts.GiveUp <= 0 {
		opts.GiveUp = time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Subject == "" {
		opts.Subject = "mailto:kefu@localhost"
	}
	s := &Service{st: st, opts: opts}
	s.client = &http.Client{
		Timeout: opts.Timeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: opts.Timeout, Control: opts.Egress.Control}).DialContext,
			TLSHandshakeTimeout: opts.Timeout,
			Proxy:               nil, // the destination check is on the address dialled
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var k storedKeys
	found, err := st.Setting(settingName, &k)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	if !found || k.Public == "" {
		if k, err = s.newKeys(ctx); err != nil {
			return nil, err
		}
	}
	plain, err := opts.Key.Open(settingName, k.Private)
	if err != nil && opts.ForgetSecrets {
		opts.Logger.Warn("push: the VAPID key cannot be opened with this secret key; a new pair is made and the browsers' subscriptions are dropped (--forget-secrets): agents turn Push on again", "err", err)
		if err = s.dropSubscriptions(ctx); err == nil {
			if k, err = s.newKeys(ctx); err == nil {
				plain, err = opts.Key.Open(settingName, k.Private)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("push: the VAPID key cannot be opened with this secret key: %w", err)
	}
	s.public, s.priv = k.Public, string(plain)
	// The reader's position is fixed now: what happens from here on is
	// notified, even before Run starts (or on another node).
	if _, err := notify.LoadCursor(ctx, st, readerName); err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	return s, nil
}

// newKeys makes, seals and stores a VAPID key pair, and returns the pair
// stored: another node may have stored its own first.
func (s *Service) newKeys(ctx context.Context) (storedKeys, error) {
	priv, pub, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		return storedKeys{}, fmt.Errorf("push: make the VAPID keys: %w", err)
	}
	sealed, err := s.opts.Key.Seal(settingName, []byte(priv))
	if err != nil {
		return storedKeys{}, fmt.Errorf("push: seal the VAPID key: %w", err)
	}
	k := storedKeys{Public: pub, Private: sealed}
	if err := s.st.PutSetting(ctx, settingName, k); err != nil {
		return storedKeys{}, fmt.Errorf("push: store the VAPID keys: %w", err)
	}
	if _, err := s.st.Setting(settingName, &k); err != nil {
		return storedKeys{}, fmt.Errorf("push: %w", err)
	}
	return k, nil
}

// dropSubscriptions deletes every stored subscription.
func (s *Service) dropSubscriptions(ctx context.Context) error {
	docs, err := s.st.Docs(kindSub)
	if err != nil {
		return fmt.Errorf("push: drop the subscriptions: %w", err)
	}
	for _, d := range docs {
		if err := s.st.DeleteDoc(ctx, kindSub, d.Key, 0); err != nil {
			return fmt.Errorf("push: drop subscription %s: %w", d.Key, err)
		}
	}
	return nil
}

// PublicKey is the VAPID public key the console subscribes with.
func (s *Service) PublicKey() string { return s.public }

// Subscription is one browser's push subscription of an agent.
type Subscription struct {
	AgentID   string       `json:"agent_id"`
	Endpoint  string       `json:"endpoint"`
	Keys      webpush.Keys `json:"keys"`
	CreatedAt time.Time    `json:"created_at"`
	UserAgent string       `json:"user_agent,omitempty"`
}

func subKey(endpoint string) string {
	h := sha256.Sum256([]byte(endpoint))
	return hex.EncodeToString(h[:20])
}

func bad(format string, args ...any) error {
	return protocol.Errorf(protocol.CodeBadField, fmt.Sprintf(format, args...))
}

// check validates a subscription the console sent.
func (s *Service) check(sub *Subscription) error {
	if len(sub.Endpoint) > 2000 {
		return bad("endpoint: at most 2000 characters")
	}
	if _, err := s.opts.Egress.CheckURL(sub.Endpoint); err != nil {
		return bad("endpoint: %v", err)
	}
	p256, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(sub.Keys.P256dh, "="))
	if err != nil || len(p256) != 65 || p256[0] != 4 {
		return bad("keys.p256dh: an uncompressed P-256 point, base64url")
	}
	auth, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(sub.Keys.Auth, "="))
	if err != nil || len(auth) != 16 {
		return bad("keys.auth: 16 bytes, base64url")
	}
	if len(sub.UserAgent) > 300 {
		sub.UserAgent = sub.UserAgent[:300]
	}
	return nil
}

// Subscribe stores (or replaces) a subscription for agentID.
func (s *Service) Subscribe(ctx context.Context, agentID string, sub Subscription) error {
	sub.AgentID, sub.CreatedAt = agentID, s.opts.Now().UTC()
	if err := s.check(&sub); err != nil {
		return err
	}
	data, _ := json.Marshal(sub)
	key := subKey(sub.Endpoint)
	var rev uint64
	if d, err := s.st.Doc(kindSub, key); err == nil {
		rev = d.Rev
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("push: %w", err)
	}
	if _, err := s.st.PutDoc(ctx, kindSub, key, data, rev); err != nil {
		return fmt.Errorf("push: store the subscription: %w", err)
	}
	return nil
}

// Unsubscribe removes agentID's subscription at endpoint.
func (s *Service) Unsubscribe(ctx context.Context, agentID, endpoint string) error {
	d, err := s.st.Doc(kindSub, subKey(endpoint))
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	var sub Subscription
	if json.Unmarshal(d.Data, &sub) != nil || sub.AgentID != agentID {
		return fmt.Errorf("push: %w", store.ErrNotFound)
	}
	return s.st.DeleteDoc(ctx, kindSub, d.Key, 0)
}

// Subscriptions lists the stored subscriptions, of agentID or ("") all.
func (s *Service) Subscriptions(agentID string) ([]Subscription, error) {
	docs, err := s.st.Docs(kindSub)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	var out []Subscription
	for _, d := range docs {
		var sub Subscription
		if json.Unmarshal(d.Data, &sub) != nil {
			continue
		}
		if agentID == "" || sub.AgentID == agentID {
			out = append(out, sub)
		}
	}
	return out, nil
}

// Notification is the JSON payload the console's service worker shows.
type Notification struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	Title          string `json:"title"`
	Body           string `json:"body"`
	URL            string `json:"url"` // the console, opened on the conversation
}

// Run sends a notification for every conversation handed to the queue,
// to every subscription, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	for ctx.Err() == nil {
		err := (&notify.Feed{Log: s.st, Name: readerName, Wake: s.opts.Wake, Poll: s.opts.Poll, Logger: s.opts.Logger, Wants: wanted, NoMessages: true}).Run(ctx, s.handle)
		if ctx.Err() != nil {
			return
		}
		s.opts.Logger.Error("push: reading the event log stopped; resuming", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

// wanted is the events push acts on: the rest (a new conversation per
// visitor, every message) move the reader's position once per batch.
func wanted(ev store.Event) bool { return ev.Type == store.EventHandedOff && ev.Conversation != nil }

// handle sends one event's notification to every subscription; a push
// service that fails is retried (the event waits) until GiveUp.
func (s *Service) handle(ctx context.Context, ev store.Event) error {
	if !wanted(ev) {
		return nil
	}
	n := Notification{Type: "waiting", ConversationID: ev.ConversationID, Title: "A visitor is waiting",
		Body: "A new conversation is waiting for a person.", URL: "/console/#c=" + ev.ConversationID}
	payload, _ := json.Marshal(n)
	subs, err := s.Subscriptions("")
	if err != nil {
		return err
	}
	for _, sub := range subs {
		a, err := s.st.Account(sub.AgentID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// The account is gone: so is what it subscribed.
			if err := s.st.DeleteDoc(ctx, kindSub, subKey(sub.Endpoint), 0); err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		case a.Disabled:
			continue
		}
		s.sendWithRetry(ctx, sub, payload, ev)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func (s *Service) sendWithRetry(ctx context.Context, sub Subscription, payload []byte, ev store.Event) {
	start := s.opts.Now()
	wait := s.opts.FirstRetry
	for attempt := 1; ; attempt++ {
		code, err := s.send(ctx, sub, payload, ev.ConversationID)
		switch {
		case err == nil && code >= 200 && code < 300:
			return
		case code == http.StatusNotFound || code == http.StatusGone:
			// The browser dropped the subscription: forget it.
			s.opts.Logger.Info("push: subscription expired; removed", "agent", sub.AgentID, "code", code)
			if derr := s.st.DeleteDoc(ctx, kindSub, subKey(sub.Endpoint), 0); derr != nil {
				s.opts.Logger.Warn("push: remove an expired subscription", "err", derr)
			}
			return
		case code >= 400 && code < 500 && code != http.StatusTooManyRequests:
			s.opts.Logger.Warn("push: the push service refused the notification", "agent", sub.AgentID, "code", code)
			return
		}
		if ctx.Err() != nil || s.opts.Now().Sub(start) >= s.opts.GiveUp {
			s.opts.Logger.Warn("push: gave up on a notification", "agent", sub.AgentID, "conversation", ev.ConversationID, "attempts", attempt, "code", code, "err", err)
			return
		}
		s.opts.Logger.Info("push: send failed; will retry", "agent", sub.AgentID, "attempt", attempt, "code", code, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(wait*2, 10*time.Minute)
	}
}

// send makes one request to the subscription's push service.
func (s *Service) send(ctx context.Context, sub Subscription, payload []byte, convID string) (int, error) {
	resp, err := webpush.SendNotificationWithContext(ctx, payload, &webpush.Subscription{Endpoint: sub.Endpoint, Keys: sub.Keys}, &webpush.Options{
		HTTPClient: s.client, Subscriber: s.opts.Subject, VAPIDPublicKey: s.public, VAPIDPrivateKey: s.priv,
		TTL: 24 * 3600, Urgency: webpush.UrgencyHigh, Topic: topic(convID),
	})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// topic collapses notifications of one conversation at the push service
// (at most 32 base64url characters).
func topic(convID string) string {
	h := sha256.Sum256([]byte(convID))
	return base64.RawURLEncoding.EncodeToString(h[:24])
}
