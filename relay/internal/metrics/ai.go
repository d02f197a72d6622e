package metrics

import (
	"errors"
	"fmt"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/prometheus/client_golang/prometheus"
)

// AI records the AI client's work (ai.Metrics) as the kefu_ai_* series.
// Cache, budget and limiter figures are read from those types at scrape
// time, so they stay plain types the lead can also read directly.
type AI struct {
	inflight   prometheus.Gauge
	attempts   prometheus.Counter
	retries    prometheus.Counter
	firstToken prometheus.Histogram
	answers    *prometheus.CounterVec
	tokens     *prometheus.CounterVec
	redactions prometheus.Counter
	responses  *prometheus.CounterVec
}

// NewAI registers the AI client's metrics on reg, with gauges for the
// cache, budget and limiter that are not nil. It fails if they are
// registered already.
func NewAI(reg prometheus.Registerer, cache *ai.Cache, budget *ai.Budget, limiter *ai.Limiter) (*AI, error) {
	m := &AI{
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kefu_ai_streams_inflight", Help: "Upstream answers being streamed now."}),
		attempts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kefu_ai_upstream_requests_total", Help: "Upstream requests made, retries included."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kefu_ai_upstream_retries_total", Help: "Retries after 429 or 5xx before the first token."}),
		firstToken: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kefu_ai_first_token_seconds", Help: "Time from request to first answer text.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32}}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_ai_answers_total", Help: "Answers by outcome."}, []string{"outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_ai_tokens_total", Help: "Tokens used, by kind (prompt, completion)."}, []string{"kind"}),
		redactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kefu_ai_output_redactions_total", Help: "Key-like tokens removed from model output."}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_ai_upstream_responses_total",
			Help: "Upstream responses by status class: 2xx, 429, 4xx, 5xx, error (no HTTP status: network, TLS, refused)."}, []string{"class"}),
	}
	cs := []prometheus.Collector{m.inflight, m.attempts, m.retries, m.firstToken, m.answers, m.tokens, m.redactions, m.responses}
	if cache != nil {
		cs = append(cs,
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "kefu_ai_cache_hits_total", Help: "Answer cache hits."},
				func() float64 { return float64(cache.Stats().Hits) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "kefu_ai_cache_misses_total", Help: "Answer cache misses."},
				func() float64 { return float64(cache.Stats().Misses) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "kefu_ai_cache_entries", Help: "Answers in the cache."},
				func() float64 { return float64(cache.Stats().Entries) }))
	}
	if budget != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kefu_ai_budget_used_tokens", Help: "Tokens used today against the daily budget."},
			func() float64 { return float64(budget.Snapshot().Used) }))
	}
	if limiter != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kefu_ai_limiter_inuse", Help: "Upstream slots held (global limiter)."},
			func() float64 { return float64(limiter.InUse()) }))
	}
	var errs []error
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("metrics: ai: %w", err)
	}
	return m, nil
}

// StreamStarted implements ai.Metrics.
func (m *AI) StreamStarted() { m.inflight.Inc() }

// StreamEnded implements ai.Metrics.
func (m *AI) StreamEnded() { m.inflight.Dec() }

// UpstreamRequest implements ai.Metrics.
func (m *AI) UpstreamRequest() { m.attempts.Inc() }

// Retry implements ai.Metrics.
func (m *AI) Retry() { m.retries.Inc() }

// Response implements ai.Metrics.
func (m *AI) Response(class string) { m.responses.WithLabelValues(class).Inc() }

// FirstToken implements ai.Metrics.
func (m *AI) FirstToken(d time.Duration) { m.firstToken.Observe(d.Seconds()) }

// Answer implements ai.Metrics.
func (m *AI) Answer(outcome string) { m.answers.WithLabelValues(outcome).Inc() }

// Tokens implements ai.Metrics.
func (m *AI) Tokens(prompt, completion int) {
	m.tokens.WithLabelValues("prompt").Add(float64(prompt))
	m.tokens.WithLabelValues("completion").Add(float64(completion))
}

// Redactions implements ai.Metrics.
func (m *AI) Redactions(n int) { m.redactions.Add(float64(n)) }
