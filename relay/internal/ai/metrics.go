package ai

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are always built, so the code never checks for nil; they are
// registered only when Options.Registerer is set. Cache, budget and limiter
// figures are read from those types at scrape time, so they stay plain
// types the lead can also read directly.
type metrics struct {
	inflight   prometheus.Gauge
	attempts   prometheus.Counter
	retries    prometheus.Counter
	firstToken prometheus.Histogram
	answers    *prometheus.CounterVec
	tokens     *prometheus.CounterVec
	redactions prometheus.Counter
	responses  *prometheus.CounterVec
}

// Answer outcomes, the "outcome" label of kefu_ai_answers_total.
const (
	outcomeComplete   = "complete"
	outcomeCached     = "cached"
	outcomeIncomplete = "incomplete"
	outcomeDisabled   = "disabled"
	outcomeBudget     = "budget"
	outcomeBusy       = "busy"
	outcomeUpstream   = "upstream"
	outcomeTimeout    = "timeout"
	outcomeCanceled   = "canceled"
	outcomeHandoff    = "handoff"
)

func newMetrics(reg prometheus.Registerer, cache *Cache, budget *Budget, limiter *Limiter) (*metrics, error) {
	m := &metrics{
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
	if reg == nil {
		return m, nil
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
	return m, errors.Join(errs...)
}
