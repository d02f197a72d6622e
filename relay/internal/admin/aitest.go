package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/protocol"
)

// aiTestPrompt is the fixed question of the AI test: it exercises the
// system prompt in force and costs a sentence.
const aiTestPrompt = "This is a connection test from the Kefu admin page. Greet a new customer in one short sentence."

// aiTestMaxTokens caps the test answer whatever the settings say.
const aiTestMaxTokens = 60

// sseWriteTimeout bounds each event write: an admin's browser that stops
// reading must not hold an upstream stream open.
const sseWriteTimeout = 10 * time.Second

// testAI streams a short answer from the saved settings (switched on for
// the test even if the AI is off) as text/event-stream: "delta" events
// ({"text"}) as the model writes, then "done" ({"ms_first_token",
// "ms_total","finish_reason","model"}) or "error" ({"kind","status",
// "message"}, redacted).
func (a *Admin) testAI(w http.ResponseWriter, r *http.Request) {
	select {
	case a.aiTest <- struct{}{}:
		defer func() { <-a.aiTest }()
	default:
		httpx.Error(w, http.StatusTooManyRequests, protocol.CodeRateLimited, "an AI test is already running; wait for it to finish")
		return
	}
	s := a.d.AI.Get()
	s.Enabled = true
	s.MaxAnswerTokens = min(s.MaxAnswerTokens, aiTestMaxTokens)
	msgs := ai.BuildMessages(s, nil, []ai.Turn{{Role: ai.RoleVisitor, Text: aiTestPrompt}})

	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: pass events through at once
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(event string, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s event: %w", event, err)
		}
		rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return fmt.Errorf("write %s event: %w", event, err)
		}
		return rc.Flush()
	}
	if err := send("start", map[string]any{"model": s.Model, "base_url": s.BaseURL}); err != nil {
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), a.d.AITestTimeout)
	defer cancel()
	start := time.Now()
	res, err := a.d.Stream.Stream(ctx, s, msgs, func(text string) error {
		return send("delta", map[string]string{"text": text})
	})
	if err == nil {
		send("done", map[string]any{
			"ms_first_token": res.FirstToken.Milliseconds(), "ms_total": time.Since(start).Milliseconds(),
			"finish_reason": res.FinishReason, "model": s.Model,
		})
		a.d.Log.Info("admin: ai test answered", "model", s.Model, "first_token", res.FirstToken, "by", who(r))
		return
	}
	kind, status, msg := describeAIError(err, ctx.Err() != nil && r.Context().Err() == nil, a.d.AITestTimeout)
	msg = redactKey(msg, s.APIKey.Reveal())
	a.d.Log.Info("admin: ai test failed", "kind", kind, "status", status, "err", msg, "by", who(r))
	send("error", map[string]any{"kind": kind, "status": status, "message": msg})
}

// describeAIError turns a Stream error into what the admin reads: a kind
// (disabled, upstream, timeout, canceled), the upstream's HTTP status if
// any, and a message. Upstream messages are already redacted by package ai.
func describeAIError(err error, testTimedOut bool, limit time.Duration) (kind string, status int, msg string) {
	var ue *ai.UpstreamError
	var te *ai.TimeoutError
	switch {
	case testTimedOut:
		return "timeout", 0, fmt.Sprintf("no complete answer within %s", limit)
	case errors.As(err, &ue):
		return "upstream", ue.Status, ue.Error()
	case errors.As(err, &te):
		return "timeout", 0, te.Error()
	case errors.Is(err, ai.ErrDisabled):
		return "disabled", 0, strings.TrimPrefix(err.Error(), "ai: stream: ")
	case errors.Is(err, context.Canceled):
		return "canceled", 0, "the test was cancelled"
	case errors.Is(err, ai.ErrUpstream):
		return "upstream", 0, strings.TrimPrefix(err.Error(), "ai: stream: ")
	}
	return "upstream", 0, "the upstream could not be reached"
}

// redactKey is the last line of defence before text leaves the relay:
// the key, and then anything key-like (ai.FilterString), are replaced.
func redactKey(msg, key string) string {
	if key != "" {
		msg = strings.ReplaceAll(msg, key, "[redacted]")
	}
	return ai.FilterString(msg)
}
