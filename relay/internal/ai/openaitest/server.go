// Package openaitest is a fake OpenAI-compatible chat-completions upstream
// that speaks the real streaming wire format, with scenarios for every way a
// real upstream misbehaves. Tests start it with New; cmd/fakeopenai runs the
// same Handler as a process for browser tests and benchmarks.
package openaitest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// Server is a Handler on a real loopback listener.
type Server struct {
	*Handler
	// URL is the server's root, e.g. http://127.0.0.1:41234.
	URL string
	// BaseURL is URL + "/v1", ready for OPENAI_BASE_URL.
	BaseURL string

	srv   *httptest.Server
	conns *atomic.Int64
}

// New starts a fake upstream and closes it when the test ends.
func New(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := Start(opts)
	tb.Cleanup(s.Close)
	return s
}

// Start starts a fake upstream; the caller closes it.
func Start(opts Options) *Server {
	h := NewHandler(opts)
	srv := httptest.NewUnstartedServer(h)
	conns := new(atomic.Int64)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	return &Server{Handler: h, URL: srv.URL, BaseURL: srv.URL + "/v1", srv: srv, conns: conns}
}

// Conns is the number of connections the server has accepted: a client
// that keeps its connections opens few for many requests.
func (s *Server) Conns() int { return int(s.conns.Load()) }

// Close releases waiting streams, then stops the listener and waits for the
// handlers to return.
func (s *Server) Close() {
	s.Handler.Close()
	s.srv.CloseClientConnections()
	s.srv.Close()
}
