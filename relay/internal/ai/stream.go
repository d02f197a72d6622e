package ai

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/egress"
)

// Usage is the token count of one answer.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
	// Estimated is true when the upstream sent no usage and the counts
	// come from EstimateTokens.
	Estimated bool
}

// Total is prompt plus completion tokens.
func (u Usage) Total() int { return u.PromptTokens + u.CompletionTokens }

// Result is what one answer produced. Text is exactly the concatenation of
// the onDelta calls: filtered, valid UTF-8. It is filled in on failure too.
type Result struct {
	Text string
	// Complete is true only when the stream ended with [DONE] after a
	// finish reason. An incomplete Text was shown but not finished.
	Complete     bool
	FinishReason string // "stop", "length", "content_filter", ...; "" if none
	Usage        Usage
	Cached       bool          // served from the answer cache
	Attempts     int           // upstream requests made
	FirstToken   time.Duration // from the call to the first content; 0 if none
	Redactions   int           // key-like tokens the filter replaced
}

// DeltaFunc receives filtered answer text as it streams. An error from it
// ends the answer and is returned as is (wrapped).
type DeltaFunc func(text string) error

// Stream sends msgs to the upstream in s and streams the answer to onDelta
// through the output filter. It retries 429 and 5xx before the first token,
// bounded by Retry and by the first-token timeout, and enforces Timeouts.
// A nil error means Result.Complete. Otherwise the error matches one of
// ErrDisabled, ErrUpstream, ErrTimeout (plus ErrIncomplete when text was
// shown), or is the caller's context error or onDelta's error.
func (c *Client) Stream(ctx context.Context, s Settings, msgs []Message, onDelta DeltaFunc) (Result, error) {
	const op = "ai: stream"
	if !s.Enabled {
		return Result{}, fmt.Errorf("%s: %w", op, ErrDisabled)
	}
	if _, err := checkBaseURL(s.BaseURL, *c.opts.Egress); err != nil {
		return Result{}, fmt.Errorf("%s: %w: %w", op, ErrDisabled, err)
	}
	key, withheld := s.UsableKey()
	baseURL := strings.TrimRight(strings.TrimSpace(s.BaseURL), "/")
	keyHost := ""
	if key != "" {
		keyHost = s.KeyHost
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wd := newWatchdog(c.opts.Timeouts, cancel)
	defer wd.stop()

	c.metrics.StreamStarted()
	defer c.metrics.StreamEnded()

	st := &streamState{wd: wd, onDelta: onDelta, start: time.Now()}
	tools := s.Handoff != HandoffMarkerMode
	req := newChatRequest(s, msgs, tools)
	var err error
	for attempt := 1; ; attempt++ {
		st.res.Attempts = attempt
		c.metrics.UpstreamRequest()
		err = c.attempt(ctx, baseURL, req, key, keyHost, st)
		if err == nil {
			break
		}
		var ue *UpstreamError
		if !errors.As(err, &ue) || ctx.Err() != nil {
			break
		}
		if tools && toolsUnsupported(ue) && st.text.Len() == 0 && attempt < c.opts.Retry.MaxAttempts {
			// An upstream without tools: ask again, with the text marker.
			c.log.Info("ai upstream refused tools; asking again in marker mode", "status", ue.Status)
			tools = false
			req = newChatRequest(s, markerMessages(msgs), false)
			continue
		}
		if !ue.retryable() || attempt >= c.opts.Retry.MaxAttempts {
			break
		}
		if ra := ue.RetryAfter; ra > 0 && (ra >= wd.firstTokenLeft() || c.opts.Retry.MaxRetryAfter > 0 && ra > c.opts.Retry.MaxRetryAfter) {
			// Honour Retry-After, and hand off at once when the visitor
			// would wait past the first-token deadline for it.
			ue.GaveUp = true
			break
		}
		delay := c.opts.Retry.backoff(attempt, ue.RetryAfter)
		if delay >= wd.firstTokenLeft() {
			ue.GaveUp = true
			break // the visitor would wait past the first-token deadline
		}
		c.log.Info("ai upstream retry", "attempt", attempt, "status", ue.Status, "delay", delay)
		c.metrics.Retry()
		if sleep(ctx, delay) != nil {
			break
		}
	}

	// Whatever was held back is text the model said: filter and show it.
	if tail := st.filter.Flush(); tail != "" && !st.callbackFailed {
		if derr := st.deliver(tail); derr != nil && err == nil {
			err = derr
		}
	}
	st.res.Text = st.text.String()
	st.res.Redactions = st.filter.Redactions()
	st.res.Usage = st.usage(msgs)
	if err == nil {
		st.res.Complete = true
		return st.res, nil
	}
	return st.res, c.classify(ctx, op, err, st, withheld)
}

// classify turns an attempt's error into the one Stream returns.
func (c *Client) classify(ctx context.Context, op string, err error, st *streamState, withheld bool) error {
	emitted := st.text.Len() > 0
	var he *HandoffError
	if errors.As(err, &he) {
		c.log.Info("ai asked for a person", "via", he.Via, "reason", he.Reason)
		return fmt.Errorf("%s: %w", op, he)
	}
	var te *TimeoutError
	if errors.As(context.Cause(ctx), &te) {
		te.Incomplete = emitted
		return fmt.Errorf("%s: %w", op, te)
	}
	if st.callbackFailed {
		return fmt.Errorf("%s: deliver: %w", op, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, context.Cause(ctx))
	}
	var ue *UpstreamError
	if errors.As(err, &ue) {
		ue.Incomplete = emitted
		if withheld && (ue.Status == 401 || ue.Status == 403) {
			ue.Message += " (the stored API key was entered for another host and is not sent here: re-enter it)"
		}
		c.log.Warn("ai upstream failed", "status", ue.Status, "code", ue.Code, "err", ue.Message, "attempts", st.res.Attempts)
		return fmt.Errorf("%s: %w", op, ue)
	}
	return fmt.Errorf("%s: %w: %v", op, ErrUpstream, err)
}

// streamState is one answer's progress across attempts.
type streamState struct {
	wd             *watchdog
	onDelta        DeltaFunc
	start          time.Time
	filter         Filter
	res            Result
	text           strings.Builder // what was delivered: Result.Text
	raw            strings.Builder // unfiltered text, for the token estimate
	finish         string
	upstreamUsage  *usage
	opened         int // attempts that got a stream (they cost prompt tokens)
	callbackFailed bool
}

// deliver passes filtered text on, keeping Result.Text equal to what was sent.
func (st *streamState) deliver(text string) error {
	st.text.WriteString(text)
	if st.onDelta == nil {
		return nil
	}
	if err := st.onDelta(text); err != nil {
		st.callbackFailed = true
		return err
	}
	return nil
}

func (st *streamState) usage(msgs []Message) Usage {
	if u := st.upstreamUsage; u != nil && u.TotalTokens > 0 {
		return Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens}
	}
	if st.opened == 0 {
		return Usage{}
	}
	return Usage{
		PromptTokens:     st.opened * EstimateMessages(msgs),
		CompletionTokens: EstimateTokens(st.raw.String()),
		Estimated:        true,
	}
}

// errCut is an attempt whose stream ended without [DONE] and a finish reason.
var errCut = errors.New("stream ended without [DONE] and a finish reason")

// attempt makes one upstream request and reads its stream to the end.
func (c *Client) attempt(ctx context.Context, baseURL string, req chatRequest, key, keyHost string, st *streamState) error {
	// The request's context is its own, ended by ctx while the attempt
	// runs and by the event stream after: reading the body's end after
	// [DONE] (sseBody.Close) outlives the attempt, and Stream's cancel
	// at return would cut it.
	rctx, rcancel := context.WithCancel(context.WithoutCancel(ctx))
	cl := &call{key: key, keyHost: keyHost, release: rcancel}
	unlink := context.AfterFunc(ctx, rcancel)
	defer func() {
		unlink()
		if cl.body == nil {
			rcancel() // no event stream to end it
		}
	}()
	stream, err := openStream(withCall(rctx, cl), c.http, baseURL, req)
	if err != nil {
		rcancel()
		ue := upstreamError(err, cl, key)
		c.metrics.Response(statusClass(ue.Status))
		return ue
	}
	defer stream.Close()
	c.metrics.Response(statusClass(200))
	st.opened++
	if cl.body == nil {
		return &UpstreamError{Failure: FailProtocol, Message: "no event stream in the reply"}
	}
	ev := c.events(cl.body)
	defer c.release(ev) // nothing read from it outlives the attempt: chunks are decoded into copies
	var dec chunkDecoder
	var tc toolCall
	var grace *time.Timer // bounds the wait for the tool's arguments
	defer func() {
		if grace != nil {
			grace.Stop()
		}
	}()
	for chunks := 0; ; chunks++ {
		data, err := ev.next()
		var resp *streamChunk
		if err == nil {
			resp, err = dec.decode(data)
		}
		if err != nil && tc.called() {
			// The call is known; the stream ended or the wait for the
			// arguments did: hand off with what came.
			return &HandoffError{Via: "tool", Reason: tc.reason()}
		}
		if errors.Is(err, io.EOF) {
			if cl.done.Load() && st.finish != "" {
				return nil
			}
			if chunks == 0 && !cl.done.Load() {
				// Not one event: whatever answered does not speak the stream.
				return &UpstreamError{Failure: FailProtocol, Message: "no stream events in the reply"}
			}
			return &UpstreamError{Failure: FailCut, Message: errCut.Error()}
		}
		if err != nil {
			return upstreamError(err, cl, key)
		}
		content := ""
		called := false
		for i := range resp.Choices {
			ch := &resp.Choices[i]
			if ch.Index != 0 {
				continue // we ask for one choice; ignore any other
			}
			content += ch.Delta.Content
			called = tc.add(ch.Delta) || called
			if ch.FinishReason != "" && ch.FinishReason != finishReasonNull {
				st.finish = ch.FinishReason
				st.res.FinishReason = st.finish
			}
		}
		if resp.Usage != nil {
			st.upstreamUsage = resp.Usage
		}
		st.wd.chunk(content != "" || called)
		if (content != "" || called) && st.res.FirstToken == 0 {
			st.res.FirstToken = time.Since(st.start)
			c.metrics.FirstToken(st.res.FirstToken)
		}
		if content != "" {
			if !utf8.ValidString(content) {
				content = strings.ToValidUTF8(content, "\uFFFD")
			}
			st.raw.WriteString(content)
			if out := st.filter.Write(content); out != "" {
				if err := st.deliver(out); err != nil {
					return err
				}
			}
			if st.filter.Handoff() {
				return &HandoffError{Via: "marker"}
			}
		}
		if called {
			// Hand off as soon as the call's arguments are complete, and at
			// most toolArgsWait after its name arrived: the reason helps
			// the team, but the visitor's wait matters more.
			if tc.complete() || st.finish != "" {
				return &HandoffError{Via: "tool", Reason: tc.reason()}
			}
			if grace == nil {
				grace = time.AfterFunc(toolArgsWait, func() { _ = stream.Close() })
			}
		}
	}
}

// events is a reader of body's event stream, reused from an ended attempt
// when one is free.
func (c *Client) events(body io.Reader) *events {
	if ev, ok := c.readers.Get().(*events); ok {
		ev.reset(body)
		return ev
	}
	return newEvents(body)
}

// release keeps ev for a later attempt, unless a long line or a noisy
// stream grew its buffers past what an ordinary stream needs.
func (c *Client) release(ev *events) {
	ev.r.Reset(nil) // the body is closed: do not keep it reachable
	if cap(ev.long) > eventsBuffer || ev.noise.Cap() > eventsBuffer {
		return
	}
	c.readers.Put(ev)
}

// markerMessages is msgs with the tool rule of the system prompt replaced
// by the marker rule, for an upstream without tools.
func markerMessages(msgs []Message) []Message {
	out := append([]Message(nil), msgs...)
	if len(out) > 0 && out[0].Role == roleSystem {
		out[0].Content = strings.Replace(out[0].Content, toolRule, markerRule, 1)
	}
	return out
}

// statusClass labels an upstream response for kefu_ai_upstream_responses_total:
// 2xx, 429 (rate limited), 4xx (others, 401 and 403 included), 5xx, or
// "error" when no HTTP status came back (network, TLS, refused).
func statusClass(status int) string {
	switch {
	case status == 429:
		return "429"
	case status >= 200 && status < 300:
		return "2xx"
	case status >= 400 && status < 500:
		return "4xx"
	case status >= 500 && status < 600:
		return "5xx"
	case status == 0:
		return "error"
	}
	return "other"
}

// upstreamError converts an attempt's error into a redacted UpstreamError.
// The original error is dropped, not wrapped: its text can hold the key.
func upstreamError(err error, cl *call, key string) *UpstreamError {
	ue := &UpstreamError{RetryAfter: time.Duration(cl.retryAfter.Load()), Failure: failureOf(err)}
	var apiErr *apiError
	var refused *egress.RefusedError
	switch {
	case errors.As(err, &apiErr):
		ue.Status = apiErr.Status
		ue.Code = apiErr.Code
		ue.Message = apiErr.Message
	case errors.As(err, &refused):
		ue.Refused = refused
		ue.Message = fmt.Sprintf("%v: %v", errBaseURL, refused)
	case errors.Is(err, errLineTooLong), errors.Is(err, errTooMuchNoise), errors.Is(err, errRedirect), errors.Is(err, errBaseURL):
		ue.Message = err.Error()
	case errors.Is(err, errTooManyEmpty):
		ue.Message = "too many empty stream messages"
	default:
		ue.Message = err.Error()
	}
	if ue.Status == 0 {
		if s := int(cl.status.Load()); s >= 400 {
			ue.Status = s
		}
	}
	if ue.Status != 0 {
		ue.Failure = FailStatus
	}
	ue.Message = redact(ue.Message, key)
	return ue
}

// failureOf classifies a transport or stream error.
func failureOf(err error) Failure {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var tlsRecord tls.RecordHeaderError
	var tlsAlert tls.AlertError
	var certErr *tls.CertificateVerificationError
	var netErr net.Error
	switch {
	case errors.Is(err, egress.ErrRefused):
		return FailRefused
	case errors.Is(err, errRedirect):
		return FailRedirect
	case errors.Is(err, errBaseURL):
		return FailRefused
	case errors.As(err, &dnsErr):
		return FailDNS
	case errors.As(err, &tlsRecord), errors.As(err, &tlsAlert), errors.As(err, &certErr):
		return FailTLS
	case errors.As(err, &netErr) && netErr.Timeout():
		return FailTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.As(err, &opErr) && opErr.Op == "dial":
		return FailConnect
	}
	return FailProtocol
}

func codeOf(code any, typ string) string {
	switch v := code.(type) {
	case string:
		if v != "" {
			return v
		}
	case int:
		if v != 0 {
			return fmt.Sprint(v)
		}
	}
	return typ
}

// newChatRequest builds the upstream request. Reasoning models take
// max_completion_tokens and no temperature; others take max_tokens (which
// every OpenAI-compatible server knows) and the temperature, where 0 is
// sent as the smallest float because the wire format omits a zero.
func newChatRequest(s Settings, msgs []Message, tools bool) chatRequest {
	req := chatRequest{
		Model:         s.Model,
		Messages:      msgs,
		Stream:        true,
		StreamOptions: &streamOptions{IncludeUsage: true},
	}
	if tools {
		req.Tools = []tool{handoffTool}
	}
	if reasoningModel(s.Model) {
		req.MaxCompletionTokens = s.MaxAnswerTokens
		return req
	}
	req.MaxTokens = s.MaxAnswerTokens
	req.Temperature = float32(s.Temperature)
	if req.Temperature == 0 {
		req.Temperature = math.SmallestNonzeroFloat32
	}
	return req
}

func reasoningModel(model string) bool {
	for _, p := range []string{"o1", "o3", "o4", "gpt-5", "gpt-6"} {
		if strings.HasPrefix(model, p) {
			return true
		}
	}
	return false
}

// backoff is the wait before retry number attempt (1-based): the upstream's
// Retry-After if it sent one (honoured: Stream gives up instead when it is
// too long), else an exponential delay with jitter.
func (r Retry) backoff(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter
	}
	d := r.BaseDelay << min(attempt-1, 20)
	d = min(d, r.MaxDelay)
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
