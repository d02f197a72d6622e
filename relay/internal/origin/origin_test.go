package origin

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAllowed(t *testing.T) {
	patterns := []string{"shop.example.com", "*.example.org", "https://secure.example.net", "localhost:*"}
	tests := []struct {
		origin string
		want   bool
	}{
		{"https://shop.example.com", true},
		{"http://shop.example.com", true},
		{"https://a.example.org", true},
		{"https://example.org", false},
		{"https://secure.example.net", true},
		{"http://secure.example.net", false},
		{"https://evil.example.com", false},
		{"https://shop.example.com.evil.io", false},
		{"http://localhost:3000", true},
		{"null", false},
		{"", true},
		{"http://relay.test", true}, // the relay's own host
	}
	for _, tt := range tests {
		if got := Allowed(tt.origin, "relay.test", patterns); got != tt.want {
			t.Errorf("Allowed(%q) = %v, want %v", tt.origin, got, tt.want)
		}
	}
	if !Allowed("https://anything.io", "relay.test", nil) {
		t.Error("no patterns must allow any origin")
	}
}

func TestCORS(t *testing.T) {
	h := CORS([]string{"shop.example.com"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	tests := []struct {
		name, method, origin, wantACAO string
		wantStatus                     int
	}{
		{"allowed", "GET", "https://shop.example.com", "https://shop.example.com", 200},
		{"refused origin still served, without ACAO", "GET", "https://evil.io", "", 200},
		{"preflight", "OPTIONS", "https://shop.example.com", "https://shop.example.com", 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://relay.test/v1/model", nil)
			r.Header.Set("Origin", tt.origin)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != tt.wantACAO {
				t.Errorf("ACAO %q, want %q", got, tt.wantACAO)
			}
			if w.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", w.Code, tt.wantStatus)
			}
		})
	}
}
