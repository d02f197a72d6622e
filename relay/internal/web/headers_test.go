package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAllowSameOriginFraming(t *testing.T) {
	tests := []struct {
		name           string
		frameAncestors []string
		wantCSP        string
		wantXFO        string
	}{
		{"none becomes self", nil, cspBase + "; frame-ancestors 'self'", "SAMEORIGIN"},
		{"an allowance keeps its origins", []string{"https://bo.example.com"}, cspBase + "; frame-ancestors 'self' https://bo.example.com", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			NewPolicy(tc.frameAncestors).Set(h)
			AllowSameOriginFraming(h)
			if got := h.Get("Content-Security-Policy"); got != tc.wantCSP {
				t.Errorf("CSP %q, want %q", got, tc.wantCSP)
			}
			if got := h.Get("X-Frame-Options"); got != tc.wantXFO {
				t.Errorf("X-Frame-Options %q, want %q", got, tc.wantXFO)
			}
		})
	}
}

func TestPolicyWrapCoversErrors(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /x", func(w http.ResponseWriter, r *http.Request) {})
	h := NewPolicy(nil).Wrap(mux)
	for _, req := range []*http.Request{httptest.NewRequest("GET", "/nope", nil), httptest.NewRequest("POST", "/x", nil)} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Header().Get("Content-Security-Policy") == "" || rec.Header().Get("X-Frame-Options") != "DENY" || rec.Code < 400 {
			t.Errorf("%s %s: %d %v", req.Method, req.URL.Path, rec.Code, rec.Header())
		}
	}
}
