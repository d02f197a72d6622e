package ai

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
)

// tWriter sends slog output to t.Log, so a failing test shows its logs.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fastOptions are Options with every wait shrunk for tests.
func fastOptions(t testing.TB) Options {
	return Options{
		Logger: testLogger(t),
		Timeouts: Timeouts{
			FirstToken: 2 * time.Second,
			ChunkGap:   500 * time.Millisecond,
			Answer:     5 * time.Second,
		},
		Retry: Retry{MaxAttempts: 3, BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond, MaxRetryAfter: 50 * time.Millisecond},
	}
}

func newTestClient(t testing.TB, o Options) *Client {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// settingsFor returns enabled settings pointing at the fake, with key
// bound to it.
func settingsFor(t testing.TB, baseURL, key string) Settings {
	t.Helper()
	s := DefaultSettings()
	on := true
	s, err := s.Apply(SettingsPatch{Enabled: &on, BaseURL: &baseURL, APIKey: &key})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return s
}

// collector records onDelta calls; safe for concurrent use.
type collector struct {
	mu     sync.Mutex
	deltas []string
}

func (c *collector) onDelta(s string) error {
	c.mu.Lock()
	c.deltas = append(c.deltas, s)
	c.mu.Unlock()
	return nil
}

func (c *collector) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.deltas, "")
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func userMsgs(text string) []Turn { return []Turn{{Role: RoleVisitor, Text: text}} }

func fakeServer(t testing.TB, o openaitest.Options) *openaitest.Server {
	return openaitest.New(t, o)
}

func ctxT(t testing.TB) context.Context { return t.Context() }

// recorder is an ai.Metrics that counts what it is told, by name
// ("answer cached", "response 2xx", "tokens prompt", …).
type recorder struct {
	mu sync.Mutex
	n  map[string]float64
}

func newRecorder() *recorder { return &recorder{n: map[string]float64{}} }

func (r *recorder) add(k string, v float64) { r.mu.Lock(); r.n[k] += v; r.mu.Unlock() }

func (r *recorder) get(k string) float64 { r.mu.Lock(); defer r.mu.Unlock(); return r.n[k] }

func (r *recorder) StreamStarted()             { r.add("inflight", 1) }
func (r *recorder) StreamEnded()               { r.add("inflight", -1) }
func (r *recorder) UpstreamRequest()           { r.add("upstream request", 1) }
func (r *recorder) Retry()                     { r.add("retry", 1) }
func (r *recorder) Response(class string)      { r.add("response "+class, 1) }
func (r *recorder) FirstToken(d time.Duration) { r.add("first token", 1) }
func (r *recorder) Answer(outcome string)      { r.add("answer "+outcome, 1) }
func (r *recorder) Tokens(prompt, completion int) {
	r.add("tokens prompt", float64(prompt))
	r.add("tokens completion", float64(completion))
}
func (r *recorder) Redactions(n int) { r.add("redactions", float64(n)) }
