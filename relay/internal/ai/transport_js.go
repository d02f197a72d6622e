//go:build js

package ai

import (
	"errors"
	"fmt"
	"net/http"
)

// newDoer on js/wasm sends through the transport alone. An http.Client
// would link net/http's default transport, and with it Go's TLS and HTTP/2
// client, into the Worker; what it adds here is redirects, which the edge
// refuses instead (the Workers fetch is told not to follow them, so the
// key's host binding stays ours).
func newDoer(o Options) doer { return roundTripDoer{newTransportFor(o)} }

type roundTripDoer struct{ t *transport }

func (d roundTripDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.t.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "" {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %d to %s (the edge build follows no redirects: set the base URL to where it leads)", errRedirect, resp.StatusCode, resp.Header.Get("Location"))
	}
	return resp, nil
}

func (d roundTripDoer) CloseIdleConnections() { d.t.CloseIdleConnections() }

// errNoTransport: the js/wasm build cannot dial; the Worker passes the
// Workers fetch as Options.Transport.
var errNoTransport = errors.New("ai: no upstream transport: the js/wasm build needs Options.Transport (the Workers fetch)")

// newTransport on js/wasm refuses every request: net/http's own transport
// would pull Go's TLS and HTTP/2 client into the Worker for nothing.
func newTransport(Options) http.RoundTripper { return noTransport{} }

type noTransport struct{}

func (noTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, errNoTransport }
