package web

import (
	"errors"
	"net/http"

	"github.com/kefuhq/kefu/relay/internal/httpx"
)

// Server serves health, readiness, the landing page and assets. Metrics
// are not public: the app serves them on their own address or behind a
// token.
type Server struct {
	Assets *Assets
	// Ready reports nil when the relay can take traffic.
	Ready func() error
}

// Routes registers the server's handlers.
func (s *Server) Routes(mux httpx.Mux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	// Assets are public and immutable: any site may read them (a customer
	// page fetches the wasm cross-origin for instantiateStreaming).
	mux.HandleFunc("GET /assets/{hash}/{name...}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
		s.Assets.ServeHashed(w, r)
	})
	mux.HandleFunc("GET /{$}", s.page("index.html"))
	// A knowledge-base article, for visitors an AI answer linked here.
	mux.HandleFunc("GET /help/{id}", s.page("help/index.html"))
	for _, app := range []string{"admin", "console"} {
		mux.HandleFunc("GET /"+app+"/{file...}", s.appFile(app))
		mux.Handle("GET /"+app, http.RedirectHandler("/"+app+"/", http.StatusMovedPermanently))
	}
}

// appFile serves a single-page app's files (/admin/, /console/) at stable
// URLs, revalidated by ETag. Its index.html names the other files by their
// content-hashed URLs (see Options.Bundle); the stable ones stay for
// pages loaded before an upgrade.
func (s *Server) appFile(app string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		file := r.PathValue("file")
		if file == "" {
			file = "index.html"
		}
		as := s.Assets.Get(app + "/" + file)
		if as == nil {
			http.NotFound(w, r)
			return
		}
		s.Assets.Serve(w, r, as)
	}
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.Ready(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(err.Error() + "\n"))
		return
	}
	w.Write([]byte("ready\n"))
}

// ErrNotReady is what Ready reports while starting or stopping.
var ErrNotReady = errors.New("not ready")

// page serves an embedded HTML page (the policy comes from Policy.Wrap).
func (s *Server) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		as := s.Assets.Get(name)
		if as == nil {
			http.NotFound(w, r)
			return
		}
		s.Assets.Serve(w, r, as)
	}
}
