package visitor

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/metrics"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// relay is a real visitor endpoint on a real listener over a real bbolt file.
type relay struct {
	t       *testing.T
	store   *boltdb.Store
	hub     *hub.Hub
	metrics *metrics.Metrics
	srv     *httptest.Server
	url     string
	// commits counts the store's successful commits (its OnCommit hook).
	commits *atomic.Int64
	// storeClosed: a test closed the store on purpose; cleanup skips it.
	storeClosed bool
	// stall, when set, holds every commit until it is closed: a slow disk.
	stall *atomic.Pointer[chan struct{}]
}

// stallCommits makes every commit from now on wait (in the store's
// writer, after the transaction) until release is called.
func (rl *relay) stallCommits() (release func()) {
	gate := make(chan struct{})
	rl.stall.Store(&gate)
	var once sync.Once
	release = func() {
		once.Do(func() {
			rl.stall.Store(nil)
			close(gate)
		})
	}
	rl.t.Cleanup(release) // before the store closes: it waits for its writer
	return release
}

func defaultOptions() Options {
	return Options{
		MaxMessageBytes: 4096, RatePerConn: 1000, RatePerVisitor: 1000, MaxConnsPerIP: 0,
		HelloTimeout: 5 * time.Second,
		Conn:         hub.ConnOptions{Queue: 256, WriteTimeout: 5 * time.Second, PingInterval: 10 * time.Second, ReadLimit: 16384},
	}
}

func newRelay(t *testing.T, opts Options) *relay {
	t.Helper()
	return newRelayIn(t, t.TempDir(), opts)
}

// newRelayIn is newRelay with the database in dir.
func newRelayIn(t *testing.T, dir string, opts Options) *relay {
	t.Helper()
	m := metrics.New()
	h := hub.New()
	fan := &chat.Fanout{Hub: h, Metrics: m}
	log := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	commits := new(atomic.Int64)
	stall := new(atomic.Pointer[chan struct{}])
	onCommit := func(_ int, _ time.Duration, err error) {
		if err == nil {
			commits.Add(1)
		}
		if g := stall.Load(); g != nil {
			<-*g
		}
	}
	st, err := boltdb.Open(dir, boltdb.Options{Logger: log, OnAppend: fan.OnAppend, OnCommit: onCommit})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /v1/ws", New(opts, st, h, log, m, Hooks{}).Socket())
	srv := httptest.NewServer(mux)
	r := &relay{t: t, store: st, hub: h, metrics: m, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/ws", commits: commits, stall: stall}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx, protocol.CloseGoingAway, "test over"); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
		srv.Close()
		if r.storeClosed {
			return
		}
		if err := st.Check(); err != nil {
			t.Errorf("store consistency: %v", err)
		}
		st.Close()
	})
	return r
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// recorder collects the messages a client sees.
type recorder struct {
	mu   sync.Mutex
	msgs []protocol.Message
	ch   chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 1)} }

func (r *recorder) add(m protocol.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func (r *recorder) get() []protocol.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]protocol.Message(nil), r.msgs...)
}

// waitFor polls (with a deadline, never a bare sleep) until n messages arrived.
func (r *recorder) waitFor(t *testing.T, n int) []protocol.Message {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if got := r.get(); len(got) >= n {
			return got
		}
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("timed out with %d of %d messages", len(r.get()), n)
		}
	}
}

func (rl *relay) dial(opts client.Options) (*client.Client, *recorder) {
	rl.t.Helper()
	rec := newRecorder()
	opts.URL = rl.url
	opts.OnMessage = rec.add
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, opts)
	if err != nil {
		rl.t.Fatalf("dial: %v", err)
	}
	rl.t.Cleanup(func() { c.Close() })
	return c, rec
}

// raw is a bare WebSocket for sending frames the Go client never would.
type raw struct {
	t    *testing.T
	conn *websocket.Conn
}

func (rl *relay) raw(header http.Header) *raw {
	rl.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, rl.url, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		rl.t.Fatalf("raw dial: %v", err)
	}
	conn.SetReadLimit(1 << 22)
	rl.t.Cleanup(func() { conn.CloseNow() })
	return &raw{t: rl.t, conn: conn}
}

func (r *raw) send(s string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.conn.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		r.t.Fatalf("write %q: %v", s, err)
	}
}

// next reads frames until one of type typ arrives (skipping others) and
// decodes it into a map.
func (r *raw) next(typ string) map[string]any {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, data, err := r.conn.Read(ctx)
		if err != nil {
			r.t.Fatalf("waiting for %s: %v", typ, err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			r.t.Fatalf("bad frame %s: %v", data, err)
		}
		if m["type"] == typ {
			return m
		}
	}
}

// closed reads until the socket ends and returns the close code.
func (r *raw) closed() websocket.StatusCode {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := r.conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				r.t.Fatal("socket still open")
			}
			return websocket.CloseStatus(err)
		}
	}
}

// nextAny reads the next frame whatever its type.
func (r *raw) nextAny() map[string]any {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := r.conn.Read(ctx)
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		r.t.Fatalf("bad frame %s: %v", data, err)
	}
	return m
}

func (r *raw) hello() map[string]any {
	r.send(`{"type":"hello","last_seq":0}`)
	return r.next("welcome")
}

// testutilCount reads a close counter (kind set) or a frame-error counter
// (kind empty) from the relay's metrics.
func testutilCount(rl *relay, kind, code string) float64 {
	if kind == "" {
		return testutil.ToFloat64(rl.metrics.FrameErrors.WithLabelValues(code))
	}
	return testutil.ToFloat64(rl.metrics.Closes.WithLabelValues(kind, code))
}
