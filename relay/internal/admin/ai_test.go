package admin_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/protocol"
)

// testKey looks like nothing the output filter knows (no sk- prefix, under
// 32 characters), so only the admin API's own care keeps it in.
const testKey = "local-key-alpha-bravo"

type aiView struct {
	Enabled         bool    `json:"enabled"`
	BaseURL         string  `json:"base_url"`
	Model           string  `json:"model"`
	HasKey          bool    `json:"has_key"`
	KeyHost         string  `json:"key_host"`
	MaxAnswerTokens int     `json:"max_answer_tokens"`
	Temperature     float64 `json:"temperature"`
}

type sseEvent struct {
	name string
	data map[string]any
}

// events parses a text/event-stream body.
func events(t *testing.T, body []byte) []sseEvent {
	t.Helper()
	var out []sseEvent
	for _, block := range strings.Split(strings.TrimSpace(string(body)), "\n\n") {
		var ev sseEvent
		for _, line := range strings.Split(block, "\n") {
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.data); err != nil {
					t.Fatalf("event data %q: %v", line, err)
				}
			}
		}
		out = append(out, ev)
	}
	return out
}

// runTest presses "test" and returns the streamed text and the last event.
func runTest(t *testing.T, admin *browser) (string, sseEvent) {
	t.Helper()
	res := admin.must(200, "POST", "/v1/admin/ai/test", nil)
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("test answered %s", ct)
	}
	evs := events(t, res.body)
	if len(evs) < 2 || evs[0].name != "start" {
		t.Fatalf("events %+v", evs)
	}
	var text strings.Builder
	for _, ev := range evs {
		if ev.name == "delta" {
			text.WriteString(ev.data["text"].(string))
		}
	}
	return text.String(), evs[len(evs)-1]
}

func TestAISettingsAndTheKey(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{Text: "Hello and welcome to our shop!", ChunkRunes: 3, RequireKey: testKey})
	other := openaitest.New(t, openaitest.Options{RequireKey: "another-key-entirely"})
	r, logs := start(t, func(c *config.Config) { c.AIChunkGap = 300 * time.Millisecond })
	admin := signIn(t, r, "admin", adminPassword)
	var seen strings.Builder // every response body the admin got
	admin.record = &seen

	var v aiView
	admin.must(200, "GET", "/v1/admin/ai", nil).decode(&v)
	if v.HasKey || v.Enabled {
		t.Errorf("fresh settings %+v", v)
	}
	admin.must(200, "PATCH", "/v1/admin/ai", map[string]any{"enabled": true, "base_url": up.BaseURL, "api_key": testKey}).decode(&v)
	if !v.HasKey || v.KeyHost != up.URL || v.BaseURL != up.BaseURL {
		t.Errorf("after setting the key: %+v", v)
	}

	// The test button streams a short answer, with the key, capped.
	text, last := runTest(t, admin)
	if text != "Hello and welcome to our shop!" || last.name != "done" {
		t.Errorf("test streamed %q, ended with %+v", text, last)
	}
	reqs := up.Requests()
	if len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "Bearer "+testKey || reqs[0].MaxTokens > 60 || !reqs[0].Stream {
		t.Fatalf("upstream saw %+v", reqs)
	}
	if q := reqs[0].Messages[len(reqs[0].Messages)-1]; q.Role != "user" || !strings.Contains(q.Content, "connection test") {
		t.Errorf("test prompt %+v", q)
	}

	// An upstream error that echoes the key reaches the admin redacted.
	up.SetScenario(openaitest.Unauthorized)
	_, last = runTest(t, admin)
	if last.name != "error" || last.data["kind"] != "upstream" || last.data["status"] != 401.0 {
		t.Errorf("401 ended with %+v", last)
	}
	// A stalled stream ends with a timeout, not a hung page.
	up.SetScenario(openaitest.Stall)
	began := time.Now()
	_, last = runTest(t, admin)
	if last.name != "error" || last.data["kind"] != "timeout" || time.Since(began) > 5*time.Second {
		t.Errorf("stall ended with %+v after %s", last, time.Since(began))
	}
	up.SetScenario(openaitest.Normal)

	// Moving to another host keeps the key stored but never sends it there.
	admin.must(200, "PATCH", "/v1/admin/ai", map[string]any{"base_url": other.BaseURL}).decode(&v)
	if v.HasKey || v.KeyHost == "" {
		t.Errorf("after moving host: %+v, want has_key false and the old key_host", v)
	}
	_, last = runTest(t, admin)
	if got := other.Requests(); len(got) != 1 || got[0].Header.Get("Authorization") != "" {
		t.Errorf("the other host got %+v", got)
	}
	if msg, _ := last.data["message"].(string); last.name != "error" || !strings.Contains(msg, "re-enter") {
		t.Errorf("withheld key: %+v", last)
	}
	// Pointing back to the key's host makes it usable again.
	admin.must(200, "PATCH", "/v1/admin/ai", map[string]any{"base_url": up.BaseURL}).decode(&v)
	if !v.HasKey {
		t.Errorf("back on the key's host: %+v", v)
	}

	// A redirect to another host is not followed with the key.
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, up.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	admin.must(200, "PATCH", "/v1/admin/ai", map[string]any{"base_url": redirector.URL + "/v1", "api_key": testKey})
	before := up.Count()
	if _, last = runTest(t, admin); last.name != "error" || up.Count() != before {
		t.Errorf("cross-host redirect: ended with %+v, upstream requests %d → %d", last, before, up.Count())
	}

	tests := []struct {
		name string
		body any
		code protocol.Code
	}{
		{"file URL", map[string]any{"base_url": "file:///etc/passwd"}, protocol.CodeBadField},
		{"cloud metadata address", map[string]any{"base_url": "http://169.254.169.254/latest"}, protocol.CodeBadField},
		{"metadata host name", map[string]any{"base_url": "http://metadata.google.internal/v1"}, protocol.CodeBadField},
		{"IPv6 metadata", map[string]any{"base_url": "http://[fd00:ec2::254]/v1"}, protocol.CodeBadField},
		{"credentials in the URL", map[string]any{"base_url": "https://user:pw@api.example.com/v1"}, protocol.CodeBadField},
		{"temperature out of range", map[string]any{"temperature": 3}, protocol.CodeBadField},
		{"key with a space", map[string]any{"api_key": "two words"}, protocol.CodeBadField},
		{"unknown field", map[string]any{"key": "x"}, protocol.CodeUnknownField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admin.t = t
			res := admin.do("PATCH", "/v1/admin/ai", tt.body)
			if res.status != 400 || res.code() != string(tt.code) {
				t.Errorf("got %d %s, want 400 %s", res.status, res.body, tt.code)
			}
		})
	}
	admin.t = t
	var e struct{ Error struct{ Message string } }
	admin.do("PATCH", "/v1/admin/ai", map[string]any{"base_url": "http://169.254.169.254/"}).decode(&e)
	if !strings.HasPrefix(e.Error.Message, "base_url: ") || !strings.Contains(e.Error.Message, "metadata") {
		t.Errorf("refusal says %q; want the field and the reason in plain words", e.Error.Message)
	}
	admin.must(200, "GET", "/v1/admin/ai", nil).decode(&v)
	if v.BaseURL != redirector.URL+"/v1" {
		t.Errorf("a refused patch changed the base URL to %s", v.BaseURL)
	}
	for _, e := range endpoints {
		if e.method == "GET" {
			admin.do("GET", e.path, nil)
		}
	}

	if strings.Contains(seen.String(), testKey) {
		t.Errorf("a response carried the key")
	}
	if strings.Contains(logs.String(), testKey) {
		t.Errorf("the relay logged the key")
	}
	if !strings.Contains(seen.String(), `"has_key":true`) || !strings.Contains(logs.String(), "admin: ai settings changed") {
		t.Error("the checks above saw nothing: recording is broken")
	}
}

func TestOneAITestAtATime(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{Scenario: openaitest.SlowFirst, FirstDelay: 500 * time.Millisecond})
	r, _ := start(t, func(c *config.Config) { c.OpenAIBaseURL = up.BaseURL })
	admin := signIn(t, r, "admin", adminPassword)
	first := make(chan response)
	go func() { first <- admin.do("POST", "/v1/admin/ai/test", nil) }()
	waitFor(t, "the first test to reach the upstream", func() bool { return up.Active() > 0 })
	if res := admin.do("POST", "/v1/admin/ai/test", nil); res.status != 429 || res.code() != "rate_limited" {
		t.Errorf("second test while one runs: %d %s", res.status, res.body)
	}
	if res := <-first; res.status != 200 || !strings.Contains(string(res.body), "event: done") {
		t.Errorf("first test: %d %s", res.status, res.body)
	}
}

func TestAITestRefusesNonPublicAddresses(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{Text: "should never be read"})
	r, _ := start(t, func(c *config.Config) { c.AllowPrivateDestinations = false })
	admin := signIn(t, r, "admin", adminPassword)
	port := strings.TrimPrefix(up.URL, "http://127.0.0.1:")
	tests := []struct {
		base, says string
	}{
		{up.BaseURL, "127.0.0.1 is a loopback address"},
		{"http://localhost:" + port + "/v1", "localhost is a loopback name"},
		{"http://[::1]:" + port + "/v1", "::1 is a loopback address"},
		{"http://10.20.30.40:" + port + "/v1", "10.20.30.40 is a private address"},
		{"http://192.168.1.1/v1", "192.168.1.1 is a private address"},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			admin.t = t
			// Saving is allowed: answers may come from a model on the LAN.
			admin.must(200, "PATCH", "/v1/admin/ai", map[string]any{"base_url": tt.base, "api_key": testKey})
			_, last := runTest(t, admin)
			msg, _ := last.data["message"].(string)
			if last.name != "error" || last.data["kind"] != "refused" || !strings.Contains(msg, tt.says) || !strings.Contains(msg, "--allow-private-destinations") {
				t.Errorf("test of %s ended with %+v", tt.base, last)
			}
		})
	}
	if n := up.Count(); n != 0 {
		t.Errorf("the loopback upstream got %d requests from the test", n)
	}
}

// TestAITestShowsNoUpstreamWords: whatever answers at the base URL, the
// page gets the relay's own words; the operator's log gets the details.
func TestAITestShowsNoUpstreamWords(t *testing.T) {
	banner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer banner.Close()
	go func() {
		for {
			c, err := banner.Accept()
			if err != nil {
				return
			}
			// Answer the request, not the connection: a banner written
			// before the request arrives is, by chance of timing, an
			// "unsolicited response on an idle channel" that Go's client
			// drops without its bytes (make test saw it once).
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			c.Read(make([]byte, 512))
			c.Write([]byte("SSH-2.0-OpenSSH_9.2 banner-secret-7\r\n"))
			c.Close()
		}
	}()
	apiErr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":{"message":"internal host db-secret-9 refused","type":"invalid_request_error","code":"model_not_found"}}`))
	}))
	defer apiErr.Close()
	htmlUp := openaitest.New(t, openaitest.Options{Scenario: openaitest.HTMLError})
	r, logs := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	tests := []struct {
		name, base, secret string
		status             float64
		says               string
	}{
		{"a port that is not HTTP", "http://" + banner.Addr().String() + "/v1", "banner-secret-7", 0, "not an OpenAI-compatible stream"},
		{"an error body", apiErr.URL + "/v1", "db-secret-9", 400, "HTTP 400"},
		{"an HTML error page", htmlUp.BaseURL, "nginx", 502, "HTTP 502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admin.t = t
			admin.must(200, "PATCH", "/v1/admin/ai", map[string]any{"base_url": tt.base, "api_key": testKey})
			res := admin.must(200, "POST", "/v1/admin/ai/test", nil)
			evs := events(t, res.body)
			last := evs[len(evs)-1]
			msg, _ := last.data["message"].(string)
			if last.name != "error" || last.data["kind"] != "upstream" || last.data["status"] != tt.status || !strings.Contains(msg, tt.says) {
				t.Errorf("ended with %+v", last)
			}
			if strings.Contains(string(res.body), tt.secret) {
				t.Errorf("the page got the upstream's words %q: %s", tt.secret, res.body)
			}
		})
	}
	admin.t = t
	if !strings.Contains(logs.String(), "banner-secret-7") || !strings.Contains(logs.String(), "db-secret-9") {
		t.Error("the operator's log lacks the upstream's details")
	}
}
