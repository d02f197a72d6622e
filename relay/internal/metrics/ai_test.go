package metrics

import (
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestNewAIRegistersOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewAI(reg, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := NewAI(reg, nil, nil, nil); err == nil {
		t.Error("second registration on one registry: got nil, want an error")
	}
}

func TestAIRecordsWhatTheClientSays(t *testing.T) {
	reg := prometheus.NewRegistry()
	cache := ai.NewCache(10, time.Minute, nil)
	budget := ai.NewBudget(1000, time.UTC, time.Now)
	limiter := ai.NewLimiter(4, 1)
	m, err := NewAI(reg, cache, budget, limiter)
	if err != nil {
		t.Fatal(err)
	}
	var _ ai.Metrics = m
	m.StreamStarted()
	m.StreamStarted()
	m.StreamEnded()
	m.UpstreamRequest()
	m.Retry()
	m.Response("429")
	m.Response("2xx")
	m.Response("2xx")
	m.FirstToken(300 * time.Millisecond)
	m.Answer("cached")
	m.Tokens(12, 30)
	m.Redactions(2)
	k := ai.NewCacheKey(ai.Settings{}, "", "question", "")
	cache.Put(k, "answer")
	cache.Get(k)
	cache.Get(ai.NewCacheKey(ai.Settings{}, "", "another", ""))

	for _, tc := range []struct {
		c    prometheus.Collector
		want float64
	}{
		{m.inflight, 1},
		{m.attempts, 1},
		{m.retries, 1},
		{m.responses.WithLabelValues("2xx"), 2},
		{m.responses.WithLabelValues("429"), 1},
		{m.answers.WithLabelValues("cached"), 1},
		{m.tokens.WithLabelValues("prompt"), 12},
		{m.tokens.WithLabelValues("completion"), 30},
		{m.redactions, 2},
	} {
		if got := testutil.ToFloat64(tc.c); got != tc.want {
			t.Errorf("%v: got %v, want %v", tc.c, got, tc.want)
		}
	}
	if n := testutil.CollectAndCount(m.firstToken); n != 1 {
		t.Errorf("first-token histogram: %d series", n)
	}
	for name, want := range map[string]float64{"kefu_ai_cache_hits_total": 1, "kefu_ai_cache_misses_total": 1, "kefu_ai_cache_entries": 1} {
		if got := gathered(t, reg, name); got != want {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"kefu_ai_budget_used_tokens", "kefu_ai_limiter_inuse"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != 1 {
			t.Errorf("%s: %d series, %v", name, n, err)
		}
	}
}

// gathered reads one unlabelled counter or gauge from reg.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("%s not gathered", name)
	return 0
}
