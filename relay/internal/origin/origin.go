// Package origin is the relay's cross-origin policy for what customer sites
// load: the visitor socket, the model, the widget's assets and config.
// Admin and agent endpoints never use it: they are same-origin only.
package origin

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync/atomic"
	"time"
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

// Policy is the set of site patterns in force: the --allowed-origins flag,
// unless an admin saved a list in the widget settings. Safe for concurrent
// use; a nil *Policy allows any site.
type Policy struct {
	flag    []string
	cur     atomic.Pointer[[]string]
	refused refusals
}

// NewPolicy starts from the flag's patterns (empty allows any).
func NewPolicy(flag []string) *Policy {
	return &Policy{flag: flag, refused: refusals{by: map[string]*Refusal{}, now: time.Now}}
}

// FlagPatterns returns the flag's patterns, in force while no list is set
// (empty allows any).
func (p *Policy) FlagPatterns() []string {
	if p == nil {
		return nil
	}
	return append([]string(nil), p.flag...)
}

// Patterns returns the patterns in force (empty allows any).
func (p *Policy) Patterns() []string {
	if p == nil {
		return nil
	}
	if cur := p.cur.Load(); cur != nil {
		return *cur
	}
	return p.flag
}

// Set replaces the patterns; nil goes back to the flag's.
func (p *Policy) Set(patterns []string) {
	if patterns == nil {
		p.cur.Store(nil)
		return
	}
	cp := append([]string(nil), patterns...)
	p.cur.Store(&cp)
}

// Allowed applies the patterns in force (see Allowed).
func (p *Policy) Allowed(origin, host string) bool {
	return Allowed(origin, host, p.Patterns())
}

// Admit is Allowed for a request a customer page made (the widget's
// config, the visitor socket, the visitor API): a refusal is remembered
// for the admin page (Refused), so a business that forgot a site learns
// its name instead of hunting for a CORS error in a browser's devtools.
func (p *Policy) Admit(origin, host string) bool {
	if p.Allowed(origin, host) {
		return true
	}
	p.refused.record(origin)
	return false
}

// Refused lists the sites refused recently that the patterns in force
// still refuse, most recent first (at most MaxRefused).
func (p *Policy) Refused() []Refusal {
	if p == nil {
		return nil
	}
	all := p.refused.list()
	out := all[:0]
	for _, f := range all {
		if !p.Allowed(f.Origin, "") {
			out = append(out, f)
		}
	}
	return out
}

// CORS is CORS with the patterns in force at each request.
func (p *Policy) CORS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		CORS(p.Patterns(), h).ServeHTTP(w, r)
	})
}

// CheckPattern reports whether a site pattern is well formed.
func CheckPattern(p string) error {
	if p == "" || strings.ContainsAny(p, " ,") {
		return errors.New("a site pattern is a host like shop.example.com, *.example.com or https://example.com")
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("bad pattern %q", p)
	}
	return nil
}
