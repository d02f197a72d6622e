package web

import (
	"net/http"
	"strings"
)

// Policy is the security policy every response of the relay carries,
// whatever handler serves it: a page at its stable URL, the same page
// under /assets/<hash>/, a JSON body, an error page or a redirect. One
// Content-Security-Policy for every document: only the relay's own
// scripts, styles and connections, no inline code, no plugins, and not
// framed by any other site unless the operator allows it (--frame-ancestors).
// Text typed by visitors, agents or the model can never run in a relay
// page, and no other site can overlay a signed-in admin page or console.
type Policy struct {
	csp          string
	frameOptions string // "" when an allowance is configured: CSP says who
}

// cspBase is the policy without frame-ancestors. 'wasm-unsafe-eval' lets
// the demo page run the widget's classifier (WebAssembly compiles, nothing
// is evaluated from text); connect-src 'self' covers the relay's own
// ws:// and wss:// sockets.
const cspBase = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"

// NewPolicy builds the policy. frameAncestors are the origins (checked by
// config) allowed to frame the relay's pages; none means no one.
func NewPolicy(frameAncestors []string) *Policy {
	if len(frameAncestors) == 0 {
		return &Policy{csp: cspBase + "; frame-ancestors 'none'", frameOptions: "DENY"}
	}
	// X-Frame-Options cannot name origins, and browsers that know
	// frame-ancestors ignore it; leaving it out keeps old ones from
	// refusing the allowance.
	return &Policy{csp: cspBase + "; frame-ancestors " + strings.Join(frameAncestors, " ")}
}

// CSP is the Content-Security-Policy value every response carries.
func (p *Policy) CSP() string { return p.csp }

// Set writes the policy's headers.
func (p *Policy) Set(h http.Header) {
	h.Set("Content-Security-Policy", p.csp)
	if p.frameOptions != "" {
		h.Set("X-Frame-Options", p.frameOptions)
	} else {
		h.Del("X-Frame-Options")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// Wrap sets the headers before next runs, so every response has them,
// including the mux's own 404, 405 and redirects.
func (p *Policy) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.Set(w.Header())
		next.ServeHTTP(w, r)
	})
}

// AllowSameOriginFraming widens the policy already set on h so the relay's
// own pages may frame this response too (the admin page's widget preview
// frames /demo). Other sites stay as the policy says.
func AllowSameOriginFraming(h http.Header) {
	parts := strings.Split(h.Get("Content-Security-Policy"), ";")
	for i, d := range parts {
		fields := strings.Fields(d)
		if len(fields) == 0 || fields[0] != "frame-ancestors" {
			continue
		}
		out := []string{"frame-ancestors", "'self'"}
		for _, src := range fields[1:] {
			if src != "'none'" && src != "'self'" {
				out = append(out, src)
			}
		}
		parts[i] = " " + strings.Join(out, " ")
		if i == 0 {
			parts[i] = parts[i][1:]
		}
	}
	h.Set("Content-Security-Policy", strings.Join(parts, ";"))
	if h.Get("X-Frame-Options") != "" {
		h.Set("X-Frame-Options", "SAMEORIGIN")
	}
}
