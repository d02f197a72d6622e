// Package openaitest is a fake OpenAI-compatible chat-completions upstream
// that speaks the real streaming wire format, with scenarios for every way a
// real upstream misbehaves. Tests start it with New; cmd/fakeopenai runs the
// same Handler as a process for browser tests and benchmarks.
package openaitest

import (
	"net/http/httptest"
	"testing"
)

// Server is a Handler on a real loopback listener.
type Server struct {
	*Handler
	// URL is the server's root, e.g. http://127.0.0.1:41234.
	URL string
	// BaseURL is URL + "/v1", ready for OPENAI_BASE_URL.
	BaseURL string

	srv *httptest.Server
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
	srv := httptest.NewServer(h)
	return &Server{Handler: h, URL: srv.URL, BaseURL: srv.URL + "/v1", srv: srv}
}

// Close releases waiting streams, then stops the listener and waits for the
// handlers to return.
func (s *Server) Close() {
	s.Handler.Close()
	s.srv.CloseClientConnections()
	s.srv.Close()
}
