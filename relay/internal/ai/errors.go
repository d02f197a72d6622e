package ai

import (
	"errors"
	"fmt"
	"time"

	"github.com/kefuhq/kefu/relay/internal/egress"
)

// Sentinel errors. Every error this package returns matches at most one of
// the first five with errors.Is; each means "hand the conversation to a
// person". ErrIncomplete is matched in addition when the Result holds text
// that was shown to the visitor but not finished.
var (
	// ErrDisabled: the AI is switched off, or has no usable configuration.
	ErrDisabled = errors.New("ai disabled")
	// ErrUpstream: the upstream refused, failed, or sent something unusable.
	ErrUpstream = errors.New("ai upstream failed")
	// ErrTimeout: no first token, too long a gap between chunks, or too long an answer.
	ErrTimeout = errors.New("ai timed out")
	// ErrBudget: the daily token budget is spent.
	ErrBudget = errors.New("ai daily token budget spent")
	// ErrBusy: no upstream slot (global or per visitor) became free in time.
	ErrBusy = errors.New("ai busy")
	// ErrIncomplete: the answer stopped before [DONE] and a finish reason; Result.Text holds what was said.
	ErrIncomplete = errors.New("ai answer incomplete")
	// ErrInvalidSettings: Settings.Validate found a field out of range.
	ErrInvalidSettings = errors.New("invalid ai settings")
)

// UpstreamError describes an upstream failure. It matches ErrUpstream.
// It deliberately does not wrap go-openai's error: those carry the raw
// error body, which can echo the API key. Message is redacted, but may
// still hold the upstream's own words (an error message, the first bytes
// of a reply that is not HTTP): show Failure and Status to people outside
// the operator's log, never Message.
type UpstreamError struct {
	Status     int           // HTTP status, 0 if none (network, stream)
	Failure    Failure       // what kind of failure, in the relay's words
	Code       string        // upstream error code or type, if any
	Message    string        // redacted, shortened upstream message
	RetryAfter time.Duration // what the upstream asked for, uncapped; 0 if none
	Incomplete bool          // text had been streamed before the failure
	// GaveUp: a retry was possible but not made, because Retry-After or
	// the backoff would have run past the first-token deadline.
	GaveUp bool
	// Refused is set when the destination policy refused an address
	// dialled (Failure FailRefused); Unwrap returns it.
	Refused *egress.RefusedError
}

// Failure classifies an UpstreamError without the upstream's words.
type Failure string

// Failures.
const (
	FailStatus   Failure = "status"   // an HTTP error status (Status)
	FailRefused  Failure = "refused"  // the destination policy refused the address
	FailDNS      Failure = "dns"      // the host name does not resolve
	FailConnect  Failure = "connect"  // refused, reset or unreachable
	FailTLS      Failure = "tls"      // handshake or certificate
	FailTimeout  Failure = "timeout"  // the network timed out (not Stream's own deadlines)
	FailRedirect Failure = "redirect" // a redirect the client does not follow
	FailProtocol Failure = "protocol" // not HTTP, or not an OpenAI-compatible stream
	FailCut      Failure = "cut"      // the stream ended before the answer did
)

// Unwrap exposes the refusal of the destination policy, the relay's own
// error (never the upstream's).
func (e *UpstreamError) Unwrap() error {
	if e.Refused == nil {
		return nil
	}
	return e.Refused
}

func (e *UpstreamError) Error() string {
	s := "ai upstream failed"
	if e.Status != 0 {
		s += fmt.Sprintf(": HTTP %d", e.Status)
	}
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is makes errors.Is(err, ErrUpstream) true, and ErrIncomplete when text
// had been streamed.
func (e *UpstreamError) Is(target error) bool {
	return target == ErrUpstream || (e.Incomplete && target == ErrIncomplete)
}

// retryable reports whether another attempt may help: rate limits and
// server errors, before any text was shown.
func (e *UpstreamError) retryable() bool {
	return !e.Incomplete && (e.Status == 429 || e.Status >= 500)
}

// TimeoutError says which deadline passed. It matches ErrTimeout, and
// ErrIncomplete when text had been streamed.
type TimeoutError struct {
	Phase      string // "first token", "chunk gap" or "answer"
	After      time.Duration
	Incomplete bool
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("ai timed out: %s after %s", e.Phase, e.After)
}

// Is makes errors.Is(err, ErrTimeout) true.
func (e *TimeoutError) Is(target error) bool {
	return target == ErrTimeout || (e.Incomplete && target == ErrIncomplete)
}
