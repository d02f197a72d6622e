package ai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The relay's own HTTP client for the upstream. go-openai is handed this
// client (never its own: see newOpenAI); the RoundTripper below is where the
// key is added, bound to its host, and where the error body limit, the
// [DONE] detection and the Retry-After capture happen, since go-openai
// exposes none of them.

// call is the state of one upstream attempt, shared between Stream and the
// RoundTripper through the request's context.
type call struct {
	key        string // the API key, sent as Authorization to keyHost only
	keyHost    string // the only host Authorization may go to
	status     atomic.Int32
	retryAfter atomic.Int64 // nanoseconds
	done       atomic.Bool  // "data: [DONE]" seen
	// body is the event stream of the response go-openai returned: Stream
	// reads it itself (events) rather than through go-openai's reader.
	body io.Reader
	// release ends the request's context. The event stream calls it once
	// closed, after reading the body's end (sseBody.Close), which may be
	// after the attempt returned.
	release func()
}

type callKey struct{}

func withCall(ctx context.Context, c *call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

// transport wraps the real http.Transport.
type transport struct {
	base       http.RoundTripper
	maxLine    int
	maxErrBody int64
	now        func() time.Time
}

// CloseIdleConnections passes Client.Close through to the base transport
// (http.Client only reaches a transport that has this method).
func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return nil, fmt.Errorf("%w: scheme %q", errBaseURL, req.URL.Scheme)
	}
	c, _ := req.Context().Value(callKey{}).(*call)
	withKey := c != nil && c.key != "" && c.keyHost != "" && hostKey(req.URL) == c.keyHost
	if withKey || req.Header.Get("Authorization") != "" {
		// The key goes only to the host it was entered for; no other
		// Authorization goes anywhere. (A RoundTripper must not change
		// the caller's request: clone.)
		req = req.Clone(req.Context())
		req.Header.Del("Authorization")
		if withKey {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if c != nil {
		c.status.Store(int32(resp.StatusCode))
		c.retryAfter.Store(int64(retryAfter(resp.Header, t.now())))
	}
	switch {
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		// go-openai reads an error body whole: bound it.
		resp.Body = limitedBody{io.LimitReader(resp.Body, t.maxErrBody), resp.Body}
	case c != nil:
		sb := &sseBody{rc: resp.Body, maxLine: t.maxLine, done: &c.done, release: c.release}
		resp.Body, c.body = sb, sb
	}
	return resp, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}

// retryAfter reads retry-after-ms (OpenAI's, precise) or Retry-After
// (seconds or an HTTP date). 0 if absent or unreadable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s > 0 {
			return time.Duration(s) * time.Second
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// errRedirect refuses a redirect that leaves the base URL's host.
var errRedirect = errors.New("redirect refused")

// maxRedirects allows a path fix-up or two on the same host.
const maxRedirects = 3

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("%w: more than %d", errRedirect, maxRedirects)
	}
	if from, to := hostKey(via[0].URL), hostKey(req.URL); from != to {
		return fmt.Errorf("%w: %s to another host", errRedirect, from)
	}
	return nil
}

// doer sends the upstream requests: go-openai's HTTPDoer, and Close's.
type doer interface {
	Do(*http.Request) (*http.Response, error)
	CloseIdleConnections()
}

// newTransportFor wraps o.Transport, or the relay's own transport.
func newTransportFor(o Options) *transport {
	base := o.Transport
	if base == nil {
		base = newTransport(o)
	}
	return &transport{base: base, maxLine: o.MaxLineBytes, maxErrBody: o.MaxErrorBodyBytes, now: o.Now}
}
