//go:build !js

package ai

import (
	"net"
	"net/http"
	"time"
)

// The relay dials the upstream itself. The js/wasm build (the edge) has no
// sockets and leaves this out, and with it Go's TLS and HTTP/2 client: its
// requests go through the Workers fetch (Options.Transport).

// newDoer is an http.Client around the transport, following redirects
// within the base URL's host. It has no Timeout of its own: the only
// request is Stream's, whose context the watchdog cancels at the answer
// deadline. (A Client.Timeout would add two goroutines and a timer to
// every request — net/http's legacy cancel — at each answer's start.)
func newDoer(o Options) doer {
	return &http.Client{
		Transport:     newTransportFor(o),
		CheckRedirect: checkRedirect,
	}
}

// newTransport dials the upstream itself, checking every address it dials.
func newTransport(o Options) *http.Transport {
	dialer := &net.Dialer{
		Timeout: o.DialTimeout,
		// TCP keepalive: carriers cut idle-looking streams without it.
		KeepAlive: 30 * time.Second,
		// Every address dialled, after DNS.
		Control: o.Egress.Control,
	}
	return &http.Transport{
		Proxy:                 o.Proxy,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   o.DialTimeout,
		ResponseHeaderTimeout: o.Timeouts.FirstToken,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
	}
}
