package ai

import "time"

// Metrics is what the client reports as it works. The relay's records them
// in Prometheus (metrics.NewAI, the kefu_ai_* series); Options.Metrics nil
// records nothing, as on the edge, where a Worker's counters would cover
// one request and Prometheus would weigh on every start.
type Metrics interface {
	// StreamStarted and StreamEnded bracket one upstream answer.
	StreamStarted()
	StreamEnded()
	// UpstreamRequest counts each request made, retries included; Retry
	// each retry after a 429 or 5xx before the first token.
	UpstreamRequest()
	Retry()
	// Response counts an upstream response by status class: 2xx, 429,
	// 4xx, 5xx, or error (no HTTP status).
	Response(class string)
	// FirstToken is the time from request to the first answer text.
	FirstToken(d time.Duration)
	// Answer counts an answer by outcome (complete, cached, handoff, …).
	Answer(outcome string)
	// Tokens adds the tokens one answer used; Redactions the key-like
	// tokens removed from its output.
	Tokens(prompt, completion int)
	Redactions(n int)
}

// Answer outcomes, the values Metrics.Answer gets.
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

// noMetrics records nothing.
type noMetrics struct{}

func (noMetrics) StreamStarted()           {}
func (noMetrics) StreamEnded()             {}
func (noMetrics) UpstreamRequest()         {}
func (noMetrics) Retry()                   {}
func (noMetrics) Response(string)          {}
func (noMetrics) FirstToken(time.Duration) {}
func (noMetrics) Answer(string)            {}
func (noMetrics) Tokens(int, int)          {}
func (noMetrics) Redactions(int)           {}
