// Package webhook posts the store's events (store.Event) to the URLs an
// admin registers: JSON bodies signed with HMAC-SHA256 over a timestamp
// and the body (sign.go), each URL reading the event log from its own
// position, so every event reaches it at least once and a conversation's
// events in order. A failed delivery is retried with exponential backoff,
// the URL's later events waiting behind it; one still failing after
// Options.GiveUpAfter pauses the URL (nothing is dropped) until the admin
// resumes or skips it. The last deliveries of each URL are kept for the
// admin page, with their bodies for "redeliver".
package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/kefuhq/kefu/relay/internal/egress"
	"github.com/kefuhq/kefu/relay/internal/notify"
	"github.com/kefuhq/kefu/relay/internal/secret"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// Store is what webhooks keep: their settings, their positions and
// delivery logs, and the event log they read.
type Store interface {
	store.Settings
	notify.Log
}

// Defaults of Options.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultFirstRetry  = 15 * time.Second
	DefaultMaxRetry    = time.Hour
	DefaultGiveUpAfter = 25 * time.Hour
)

// Options configure New. Zero values take the defaults.
type Options struct {
	// Egress says which addresses a URL may reach (the same rules as the
	// AI test: public only unless --allow-private-destinations).
	Egress egress.Policy
	// Key seals the secrets in the store.
	Key *secret.Key
	// ForgetSecrets keeps going when a stored secret cannot be opened
	// (--forget-secrets): that URL is disabled until it gets a new one.
	ForgetSecrets bool
	// Timeout bounds one delivery. Default 10s: a receiver should answer
	// at once and do its work afterwards.
	Timeout time.Duration
	// FirstRetry is the wait before the first retry; each next wait
	// doubles, up to MaxRetry. Defaults 15s and 1h.
	FirstRetry, MaxRetry time.Duration
	// GiveUpAfter is how long an event is retried before its URL is
	// paused. Default 25h (the promise is at least a day).
	GiveUpAfter time.Duration
	// Wake wakes the readers when this node stored events.
	Wake   *notify.Waker
	Poll   time.Duration // how often idle readers look (default notify.PollEvery)
	Logger *slog.Logger
	Now    func() time.Time
}

// Service manages the endpoints and delivers to them.
type Service struct {
	settings store.Settings
	log      notify.Log
	opts     Options
	client   *http.Client

	mu        sync.Mutex
	endpoints []Endpoint
	change    chan struct{} // has a value when the runner should look again
}

// New loads the endpoints. It fails when a stored secret cannot be opened
// (ErrKeyUnreadable), unless Options.ForgetSecrets.
func New(st Store, opts Options) (*Service, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.FirstRetry <= 0 {
		opts.FirstRetry = DefaultFirstRetry
	}
	if opts.MaxRetry <= 0 {
		opts.MaxRetry = DefaultMaxRetry
	}
	if opts.GiveUpAfter <= 0 {
		opts.GiveUpAfter = DefaultGiveUpAfter
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{settings: st, log: st, opts: opts, change: make(chan struct{}, 1)}
	s.client = &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: opts.Timeout, Control: opts.Egress.Control}).DialContext,
			TLSHandshakeTimeout: opts.Timeout,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
			// No proxy from the environment: the destination check is on
			// the address dialled, which a proxy would be.
			Proxy: nil,
		},
		// A redirect is a failed delivery: following it would post events
		// somewhere the admin did not register (or was not allowed to).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	eps, err := s.load()
	if err != nil {
		return nil, err
	}
	s.endpoints = eps
	for _, e := range eps {
		if !e.HasSecret {
			s.opts.Logger.Warn("webhook: this URL's secret cannot be opened with this key; forgotten (--forget-secrets): set a new one to enable it", "endpoint", e.ID, "url", e.URL)
		}
	}
	return s, nil
}

// changed tells the runner to look at the endpoints again.
func (s *Service) changed() {
	select {
	case s.change <- struct{}{}:
	default:
	}
}

// readerName is an endpoint's reader in the event log.
func readerName(id string) string { return "webhook-" + id }

// Run delivers to every enabled endpoint until ctx ends: one reader per
// endpoint, restarted when its settings change, stopped when it is paused,
// disabled or deleted. Settings another node saved are read every
// reloadEvery.
func (s *Service) Run(ctx context.Context) {
	type running struct {
		ep     Endpoint
		cancel context.CancelFunc
		done   chan struct{}
	}
	workers := map[string]*running{}
	stop := func(id string) {
		r := workers[id]
		r.cancel()
		<-r.done
		delete(workers, id)
	}
	defer func() {
		for id := range workers {
			stop(id)
		}
	}()
	reload := time.NewTicker(reloadEvery)
	defer reload.Stop()
	for {
		want := map[string]Endpoint{}
		for _, e := range s.List() {
			if e.Enabled && e.secret != "" && !s.paused(e.ID) {
				want[e.ID] = e
			}
		}
		for id, r := range workers {
			select {
			case <-r.done:
				delete(workers, id) // stopped by itself (paused, or a store error)
				continue
			default:
			}
			if e, ok := want[id]; !ok || !sameEndpoints([]Endpoint{e}, []Endpoint{r.ep}) {
				stop(id)
				// Delete and Update dropped the documents of a deleted or
				// disabled URL, but its reader may have written some since.
				if now, err := s.endpoint(id); err != nil {
					if err := s.forget(ctx, id); err != nil {
						s.opts.Logger.Warn("webhook: forget a deleted URL", "endpoint", id, "err", err)
					}
				} else if !now.Enabled {
					if err := s.reset(ctx, id); err != nil {
						s.opts.Logger.Warn("webhook: reset a disabled URL", "endpoint", id, "err", err)
					}
				}
			}
		}
		for id, e := range want {
			if workers[id] != nil {
				continue
			}
			wctx, cancel := context.WithCancel(ctx)
			r := &running{ep: e, cancel: cancel, done: make(chan struct{})}
			workers[id] = r
			go func() {
				var again bool
				defer func() {
					// Done before the runner is told, so it sees this
					// reader ended (a signal sent earlier would be taken
					// while it still seemed to run, and this one dropped).
					close(r.done)
					if again {
						s.changed()
					}
				}()
				err := (&notify.Feed{Log: s.log, Name: readerName(e.ID), Wake: s.opts.Wake, Poll: s.opts.Poll, Logger: s.opts.Logger}).
					Run(wctx, (&worker{s: s, ep: e}).handle)
				switch {
				case err == errPaused || err == errStopped:
					again = true
				case err != nil && wctx.Err() == nil:
					// Restarted at the next reload tick, not at once: a
					// failing store would otherwise spin.
					s.opts.Logger.Error("webhook: reader stopped; restarting it shortly", "endpoint", e.ID, "err", err)
				}
			}()
		}
		select {
		case <-ctx.Done():
			return
		case <-s.change:
		case <-reload.C:
			if err := s.reload(); err != nil {
				s.opts.Logger.Warn("webhook: reload settings", "err", err)
			}
		}
	}
}

// reloadEvery is how often the runner reads settings another node may
// have saved, and restarts a reader that stopped on an error.
const reloadEvery = 5 * time.Second

// forget drops what the relay keeps for a deleted endpoint.
func (s *Service) forget(ctx context.Context, id string) error {
	if err := notify.DeleteCursor(ctx, s.log, readerName(id)); err != nil {
		return err
	}
	if err := s.log.DeleteDoc(ctx, kindState, id, 0); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	for slot := range LogSize {
		if err := s.log.DeleteDoc(ctx, kindLog, logKey(id, slot), 0); err != nil {
			return fmt.Errorf("webhook: %w", err)
		}
	}
	return nil
}
