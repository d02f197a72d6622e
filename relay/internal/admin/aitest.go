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
	"github.com/kefuhq/kefu/relay/internal/egress"
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
// "message"}, the message in the relay's words only: describeAIError).
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
	_, withheld := s.UsableKey()
	kind, status, msg := describeAIError(err, ctx.Err() != nil && r.Context().Err() == nil, a.d.AITestTimeout, withheld)
	// The log, for the operator, has the details the page does not show.
	a.d.Log.Info("admin: ai test failed", "kind", kind, "status", status, "err", redactKey(err.Error(), s.APIKey.Reveal()), "by", who(r))
	send("error", map[string]any{"kind": kind, "status": status, "message": msg})
}

// describeAIError turns a Stream error into what the admin reads: a kind
// (refused, upstream, timeout, disabled, canceled), the upstream's HTTP
// status if any, and a message in the relay's own words. Nothing the
// upstream sent reaches the page: its error text, or the first bytes of a
// reply that is not HTTP, could be whatever a probed port answers. The
// relay's log has the details.
func describeAIError(err error, testTimedOut bool, limit time.Duration, withheld bool) (kind string, status int, msg string) {
	var re *egress.RefusedError
	var ue *ai.UpstreamError
	var te *ai.TimeoutError
	switch {
	case testTimedOut:
		return "timeout", 0, fmt.Sprintf("No complete answer within %s.", limit)
	case errors.As(err, &re):
		msg = fmt.Sprintf("The test calls public addresses only: %s.", re)
		if re.Private {
			msg += " To test an upstream on your own network, start the relay with --allow-private-destinations=true (KEFU_ALLOW_PRIVATE_DESTINATIONS=true)."
		}
		return "refused", 0, msg
	case errors.As(err, &ue):
		return "upstream", ue.Status, upstreamMessage(ue, withheld)
	case errors.As(err, &te):
		return "timeout", 0, fmt.Sprintf("The upstream took too long (%s after %s).", te.Phase, te.After)
	case errors.Is(err, ai.ErrDisabled):
		// The relay's own reason: the settings cannot be used.
		return "disabled", 0, strings.TrimPrefix(err.Error(), "ai: stream: ")
	case errors.Is(err, context.Canceled):
		return "canceled", 0, "The test was cancelled."
	}
	return "upstream", 0, "The upstream could not be reached. The relay's log has the details."
}

// upstreamMessage words an upstream failure from its class and status
// alone.
func upstreamMessage(ue *ai.UpstreamError, withheld bool) string {
	const details = " The relay's log has the details."
	switch ue.Failure {
	case ai.FailStatus:
		switch s := ue.Status; {
		case s == 401 || s == 403:
			if withheld {
				return fmt.Sprintf("The upstream refused the request (HTTP %d): the stored API key was entered for another host and is not sent here; re-enter it.", s)
			}
			return fmt.Sprintf("The upstream refused the API key (HTTP %d).", s) + details
		case s == 404:
			return "The upstream has no such model or path (HTTP 404): check the base URL and the model." + details
		case s == 400 || s == 422:
			return fmt.Sprintf("The upstream refused the request (HTTP %d): check the model and the settings.", s) + details
		case s == 429:
			return "The upstream is rate limiting this key, or its quota is spent (HTTP 429)." + details
		case s >= 500:
			return fmt.Sprintf("The upstream failed (HTTP %d); try again later.", s) + details
		default:
			return fmt.Sprintf("The upstream answered HTTP %d.", s) + details
		}
	case ai.FailRefused:
		return "The base URL is not allowed." + details
	case ai.FailDNS:
		return "The base URL's host name does not resolve."
	case ai.FailConnect:
		return "Could not connect to the base URL's host and port."
	case ai.FailTLS:
		return "The TLS handshake with the upstream failed (certificate or protocol)." + details
	case ai.FailTimeout:
		return "The upstream did not respond in time."
	case ai.FailRedirect:
		return "The upstream redirected to another host; the relay does not follow it there with the key."
	case ai.FailCut:
		return "The upstream's stream stopped before the answer was complete."
	}
	return "The upstream's reply is not an OpenAI-compatible stream." + details
}

// redactKey is the last line of defence before text reaches the log:
// the key, and then anything key-like (ai.FilterString), are replaced.
func redactKey(msg, key string) string {
	if key != "" {
		msg = strings.ReplaceAll(msg, key, "[redacted]")
	}
	return ai.FilterString(msg)
}
