// Package apptest starts a whole relay (the same wiring as kefu serve) on a
// free loopback port over a temporary bbolt file, for tests of behaviour
// that crosses packages.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/internal/app"
	"github.com/kefuhq/kefu/relay/internal/config"
)

// Relay is a running relay.
type Relay struct {
	App   *app.App
	Store app.Store
	// URL is http://127.0.0.1:PORT; WS is the visitor socket's URL.
	URL, WS string
	Config  config.Config
	stop    context.CancelFunc
	done    chan error
}

// Start runs a relay with test-friendly defaults (generous rates, no
// per-IP cap, a fresh data directory), after mutate adjusts the config. It
// stops when the test ends.
func Start(t testing.TB, mutate func(*config.Config)) *Relay {
	t.Helper()
	cfg, err := config.Parse(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.RatePerConn, cfg.RatePerVisitor, cfg.MaxConnsPerIP, cfg.RatePerIP = 1000, 1000, 0, 0
	cfg.ShutdownTimeout = 5 * time.Second
	// Every test upstream is on 127.0.0.1.
	cfg.AllowPrivateDestinations = true
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := app.New(cfg, log, "test")
	if err := a.Open(context.Background()); err != nil {
		t.Fatalf("open relay: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Relay{App: a, Store: a.Store(), Config: cfg, stop: cancel, done: make(chan error, 1)}
	r.URL = "http://" + a.Addr()
	r.WS = "ws://" + a.Addr() + "/v1/ws"
	go func() { r.done <- a.Run(ctx) }()
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("relay stop: %v", err)
		}
	})
	return r
}

// Stop shuts the relay down gracefully (once) and returns Run's error.
func (r *Relay) Stop() error {
	if r.stop == nil {
		return nil
	}
	r.stop()
	r.stop = nil
	return <-r.done
}

type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// DialAgent opens the agent socket as a signed-in browser of this relay
// would: the session cookie from jar, the relay's own Origin.
func (r *Relay) DialAgent(t testing.TB, jar http.CookieJar) *websocket.Conn {
	t.Helper()
	u, _ := url.Parse(r.URL)
	h := http.Header{"Origin": {r.URL}}
	for _, c := range jar.Cookies(u) {
		h.Add("Cookie", c.Name+"="+c.Value)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.URL, "http")+"/v1/agent/ws", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("agent socket: %v", err)
	}
	conn.SetReadLimit(1 << 22)
	return conn
}
