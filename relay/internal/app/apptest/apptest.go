// Package apptest starts a whole relay (the same wiring as kefu serve) on a
// free loopback port over a temporary bbolt file — or several as one
// cluster on embedded NATS — for tests of behaviour that crosses packages.
package apptest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/internal/app"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/secret"
	"github.com/kefuhq/kefu/relay/internal/testkit"
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
	cfg := testConfig(t)
	if mutate != nil {
		mutate(&cfg)
	}
	a := app.New(cfg, testLogger(t), "test")
	if err := a.Open(context.Background()); err != nil {
		t.Fatalf("open relay: %v", err)
	}
	return run(t, a, cfg)
}

// StartCluster runs n relays as one cluster, each with its NATS server
// embedded and JetStream data in its own directory, joined by routes on
// free loopback ports and started at once as an operator would. mutate
// adjusts node i's config. They stop when the test ends.
func StartCluster(t testing.TB, n int, mutate func(i int, c *config.Config)) []*Relay {
	t.Helper()
	peers := make([]string, n)
	for i := range peers {
		peers[i] = FreeAddr(t)
	}
	// Every node of a cluster needs the same secret key.
	_, key := secret.Generate()
	apps := make([]*app.App, n)
	cfgs := make([]config.Config, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		cfgs[i] = testConfig(t)
		cfgs[i].Cluster.Name, cfgs[i].Cluster.NodeName = "test", fmt.Sprintf("n%d", i)
		cfgs[i].Cluster.Listen, cfgs[i].Cluster.Peers = peers[i], peers
		cfgs[i].SecretKey = key
		if mutate != nil {
			mutate(i, &cfgs[i])
		}
		apps[i] = app.New(cfgs[i], testLogger(t).With("node", i), "test")
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			errs[i] = apps[i].Open(ctx)
		}()
	}
	wg.Wait()
	relays := make([]*Relay, n)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open node %d: %v", i, err)
		}
		relays[i] = run(t, apps[i], cfgs[i])
	}
	return relays
}

// FreeAddr returns a loopback address with a port free right now and
// never handed out before in this process (testkit.FreeAddr).
func FreeAddr(t testing.TB) string {
	t.Helper()
	return testkit.FreeAddr(t)
}

func testConfig(t testing.TB) config.Config {
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
	return cfg
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// run serves an opened relay until the test ends.
func run(t testing.TB, a *app.App, cfg config.Config) *Relay {
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
