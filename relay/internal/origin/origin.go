// Package origin is the relay's cross-origin policy for what customer sites
// load: the visitor socket, the model, the widget's assets and config.
// Admin and agent endpoints never use it: they are same-origin only.
package origin

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

// Allowed applies the site patterns to an Origin header. Patterns are hosts
// (`shop.example.com`, `*.example.com`) or scheme and host
// (`https://shop.example.com`), matched with path.Match; no patterns allows
// any origin. A request without an Origin is not from a browser page and
// cannot be cross-site, so it is allowed; so is the relay's own host.
func Allowed(origin, host string, patterns []string) bool {
	if origin == "" || len(patterns) == 0 {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	for _, p := range patterns {
		target := strings.ToLower(u.Host)
		if strings.Contains(p, "://") {
			target = strings.ToLower(u.Scheme + "://" + u.Host)
		}
		if ok, _ := path.Match(p, target); ok {
			return true
		}
	}
	return false
}

// CORS lets allowed sites read h's responses (no credentials: these are
// public resources). Preflight requests are answered here.
func CORS(patterns []string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := r.Header.Get("Origin")
		w.Header().Add("Vary", "Origin")
		if o != "" && Allowed(o, r.Host, patterns) {
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Set("Access-Control-Expose-Headers", "ETag")
			if r.Method == http.MethodOptions {
				w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
				w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization, Accept, Last-Event-ID")
				w.Header().Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}
