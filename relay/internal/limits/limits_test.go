package limits

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCounter(t *testing.T) {
	c := NewCounter(2)
	if !c.Acquire("a") || !c.Acquire("a") {
		t.Fatal("first two acquires must succeed")
	}
	if c.Acquire("a") {
		t.Error("third acquire for a must fail")
	}
	if !c.Acquire("b") {
		t.Error("other keys are independent")
	}
	c.Release("a")
	if !c.Acquire("a") {
		t.Error("released slot must be reusable")
	}
	unlimited := NewCounter(0)
	for range 1000 {
		if !unlimited.Acquire("x") {
			t.Fatal("0 means no limit")
		}
	}
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		xff    string
		proxy  bool
		want   string
	}{
		{name: "direct", remote: "10.0.0.1:5555", want: "10.0.0.1"},
		{name: "xff ignored without proxy", remote: "10.0.0.1:5555", xff: "1.2.3.4", want: "10.0.0.1"},
		{name: "xff last hop behind proxy", remote: "10.0.0.1:5555", xff: "6.6.6.6, 1.2.3.4", proxy: true, want: "1.2.3.4"},
		{name: "garbage xff behind proxy", remote: "10.0.0.1:5555", xff: "nonsense", proxy: true, want: "10.0.0.1"},
		{name: "ipv6", remote: "[::1]:80", want: "::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := ClientIP(r, tt.proxy); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKeyed(t *testing.T) {
	now := time.Unix(1000, 0)
	k := NewKeyed(1, 2, func() time.Time { return now })
	if !k.Allow("a") || !k.Allow("a") {
		t.Fatal("burst of 2 must pass")
	}
	if k.Allow("a") {
		t.Error("third request in the same instant must be refused")
	}
	if !k.Allow("b") {
		t.Error("keys are independent")
	}
	now = now.Add(2 * time.Minute)
	k.Allow("b") // sweeps idle entries
	k.mu.Lock()
	_, kept := k.m["a"]
	k.mu.Unlock()
	if kept {
		t.Error("idle key not swept")
	}
	if !k.Allow("a") {
		t.Error("refilled after idling")
	}
}

func TestPerAddress(t *testing.T) {
	now := time.Unix(0, 0)
	k := NewKeyed(1, 2, func() time.Time { return now })
	h := PerAddress(k, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	var codes []int
	for range 3 {
		r := httptest.NewRequest("POST", "/v1/classify", nil)
		r.RemoteAddr = "10.0.0.9:1234"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		codes = append(codes, w.Code)
		if w.Code == 429 && !strings.Contains(w.Body.String(), `"rate_limited"`) {
			t.Errorf("body %s", w.Body)
		}
	}
	if codes[0] != 204 || codes[1] != 204 || codes[2] != 429 {
		t.Errorf("codes %v, want 204 204 429", codes)
	}
}

func TestFrames(t *testing.T) {
	now := time.Unix(1000, 0)
	f := NewFrames(map[string]Rate{"typing": {PerSecond: 2, Burst: 3}, AnyFrame: {PerSecond: 10, Burst: 5}}, func() time.Time { return now })
	for i := range 3 {
		if !f.Allow("typing") {
			t.Fatalf("typing %d within the burst refused", i)
		}
	}
	if f.Allow("typing") {
		t.Error("typing over the burst allowed")
	}
	if !f.Allow("message") {
		t.Error("a type without a bucket is limited by AnyFrame alone")
	}
	for range 5 {
		f.Any()
	}
	if f.Any() {
		t.Error("AnyFrame over its burst allowed")
	}
	now = now.Add(time.Second)
	if !f.Allow("typing") || !f.Allow("typing") || f.Allow("typing") {
		t.Error("typing refills at 2 a second")
	}

	// Refusals: a burst, then a rate; past both, a flood.
	for i := range FloodBurst {
		if f.Refused() {
			t.Fatalf("refusal %d within the burst called a flood", i)
		}
	}
	if !f.Refused() {
		t.Error("refusal past the burst is not a flood")
	}
	now = now.Add(time.Second)
	for i := range FloodPerSecond {
		if f.Refused() {
			t.Fatalf("refusal %d within a second's refill called a flood", i)
		}
	}
	if !f.Refused() {
		t.Error("refusals faster than FloodPerSecond are a flood")
	}
}

// Buckets are made when first spent from, per connection: a connection
// that sends nothing holds none, and two connections sharing a table of
// rates do not share tokens.
func TestFramesLazy(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	rates := map[string]Rate{"typing": {PerSecond: 1, Burst: 2}, AnyFrame: {PerSecond: 1, Burst: 3}}
	a, b := NewFrames(rates, clock), NewFrames(rates, clock)
	if a.any != nil || a.refusals != nil || len(a.buckets) != 0 {
		t.Fatalf("a new connection holds buckets: %+v", a)
	}
	if !a.Allow("typing") || !a.Allow("typing") || a.Allow("typing") {
		t.Error("typing: want its burst of 2, then a refusal")
	}
	if !a.Allow("message") || len(a.buckets) != 1 {
		t.Errorf("a type without a rate made a bucket: %d buckets", len(a.buckets))
	}
	if !b.Allow("typing") || !b.Allow("typing") {
		t.Error("a second connection spent the first one's tokens")
	}
	for range 3 {
		if !b.Any() {
			t.Fatal("AnyFrame within its burst refused")
		}
	}
	if b.Any() || !a.Any() {
		t.Error("AnyFrame: want b over its burst and a untouched")
	}
	if len(rates) != 2 {
		t.Errorf("the shared table changed: %v", rates)
	}
	if !NewFrames(map[string]Rate{}, clock).Any() {
		t.Error("no AnyFrame rate: every frame is allowed")
	}
}
