package app_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/web"
)

// request is one request the walk makes, and why.
type request struct{ method, path string }

// walk turns every registered route into concrete requests: each asset
// under its hashed URL (current and stale hash), each page file at its
// stable URL, and every other pattern with its wildcards filled in. Plus
// the mux's own error pages.
func walk(t *testing.T, r *apptest.Relay) []request {
	t.Helper()
	assets := r.App.Assets()
	var reqs []request
	for _, pattern := range r.App.Routes() {
		method, p, ok := strings.Cut(pattern, " ")
		if !ok {
			method, p = "GET", pattern
		}
		switch {
		case p == "/assets/{hash}/{name...}":
			for _, name := range assets.Names() {
				reqs = append(reqs, request{method, assets.URL(name)}, request{method, "/assets/000000000000/" + name})
			}
			reqs = append(reqs, request{method, "/assets/000000000000/no-such-file.html"})
		case strings.HasSuffix(p, "/{file...}"):
			dir := strings.TrimSuffix(strings.TrimPrefix(p, "/"), "{file...}")
			reqs = append(reqs, request{method, "/" + dir}, request{method, "/" + dir + "no-such-file.js"})
			for _, name := range assets.Names() {
				if strings.HasPrefix(name, dir) {
					reqs = append(reqs, request{method, "/" + name})
				}
			}
		default:
			p = strings.ReplaceAll(p, "{$}", "")
			for strings.Contains(p, "{") {
				i, j := strings.Index(p, "{"), strings.Index(p, "}")
				p = p[:i] + "walk-" + strings.Trim(p[i+1:j], ".") + p[j+1:]
			}
			reqs = append(reqs, request{method, p})
		}
	}
	return append(reqs,
		request{"GET", "/no-such-page"},          // the mux's 404
		request{"DELETE", "/healthz"},            // its 405
		request{"GET", "/admin"},                 // its redirect
		request{"GET", "/assets/../admin/index"}, // a cleaned path
	)
}

// TestEveryResponseCarriesThePolicy walks every route the relay registers
// and every embedded file, and checks each response — pages, the same
// pages under /assets/<hash>/, JSON, errors, redirects — for the one
// Content-Security-Policy, nosniff and Referrer-Policy.
func TestEveryResponseCarriesThePolicy(t *testing.T) {
	tests := []struct {
		name           string
		frameAncestors []string
		wantFrame      string // the frame-ancestors directive
		wantDemoFrame  string // the demo's: the admin page's widget preview frames it
		wantXFO        string
		wantDemoXFO    string
	}{
		{"no site may frame", nil, "frame-ancestors 'none'", "frame-ancestors 'self'", "DENY", "SAMEORIGIN"},
		{"a back office may frame", []string{"https://backoffice.example.com", "https://*.example.org"},
			"frame-ancestors https://backoffice.example.com https://*.example.org",
			"frame-ancestors 'self' https://backoffice.example.com https://*.example.org", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := apptest.Start(t, func(c *config.Config) { c.FrameAncestors = tc.frameAncestors })
			want := web.NewPolicy(tc.frameAncestors).CSP()
			for _, must := range []string{"default-src 'self'", "script-src 'self' 'wasm-unsafe-eval';", "style-src 'self';", "object-src 'none'", "base-uri 'none'", tc.wantFrame} {
				if !strings.Contains(want, must) {
					t.Fatalf("policy %q lacks %q", want, must)
				}
			}
			client := &http.Client{
				Timeout:       10 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}
			html := map[string]bool{}
			reqs := walk(t, r)
			for _, rq := range reqs {
				req, err := http.NewRequest(rq.method, r.URL+rq.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", rq.method, rq.path, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				h := resp.Header
				what := rq.method + " " + rq.path + " (" + resp.Status + ")"
				wantCSP, wantXFO := want, tc.wantXFO
				if rq.path == "/demo" {
					wantCSP, wantXFO = strings.Replace(want, tc.wantFrame, tc.wantDemoFrame, 1), tc.wantDemoXFO
				}
				if got := h.Get("Content-Security-Policy"); got != wantCSP {
					t.Errorf("%s: CSP %q, want %q", what, got, wantCSP)
				}
				if got := h.Get("X-Frame-Options"); got != wantXFO {
					t.Errorf("%s: X-Frame-Options %q, want %q", what, got, wantXFO)
				}
				if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
					t.Errorf("%s: X-Content-Type-Options %q", what, got)
				}
				if got := h.Get("Referrer-Policy"); got != "same-origin" {
					t.Errorf("%s: Referrer-Policy %q", what, got)
				}
				if strings.HasPrefix(h.Get("Content-Type"), "text/html") {
					html[rq.path] = true
				}
			}
			// The walk reached the pages the finding was about.
			assets := r.App.Assets()
			for _, p := range []string{"/", "/demo", "/admin/", "/console/", assets.URL("admin/index.html"), assets.URL("console/index.html"), "/assets/000000000000/console/index.html"} {
				if !html[p] {
					t.Errorf("the walk did not get an HTML page at %s", p)
				}
			}
			t.Logf("%d requests, %d HTML responses, %d routes", len(reqs), len(html), len(r.App.Routes()))
		})
	}
}

// TestWidgetAssetsStayCrossOrigin: the policy must not break the embed.
// Customer pages load the loader, the panel and the wasm from the relay.
func TestWidgetAssetsStayCrossOrigin(t *testing.T) {
	r := apptest.Start(t, nil)
	assets := r.App.Assets()
	for _, p := range []string{assets.URL("panel.js"), assets.URL("widget.js")} {
		req, _ := http.NewRequest("GET", r.URL+p, nil)
		req.Header.Set("Origin", "https://shop.example.com")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Cross-Origin-Resource-Policy") != "cross-origin" {
			t.Errorf("%s: %d ACAO %q CORP %q", p, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Cross-Origin-Resource-Policy"))
		}
	}
}
