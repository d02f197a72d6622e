//go:build !js

// bbolt does not build for js/wasm.

package edge

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/secret"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

// The edge's wiring on linux, over the relay's own bbolt store: the same
// handlers the Worker runs, checked without Workers. The Worker itself (D1,
// fetch, wrangler dev) is tested by edge/test.

type tlog struct{ t testing.TB }

func (w tlog) Write(p []byte) (int, error) { w.t.Log(strings.TrimSpace(string(p))); return len(p), nil }

type harness struct {
	edge  *Edge
	srv   *httptest.Server
	store *boltdb.Store
	ai    *openaitest.Server
}

func start(t *testing.T, aiText string) *harness {
	t.Helper()
	fake := openaitest.New(t, openaitest.Options{Text: aiText, Delay: 5 * time.Millisecond})
	h, err := startWith(t, map[string]string{"OPENAI_BASE_URL": fake.BaseURL, "OPENAI_API_KEY": "sk-test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.ai = fake
	return h
}

// startWith builds the edge from env over a store that prep fills first,
// and reports New's error. Like the Worker, it builds each part on the
// first request that needs it.
func startWith(t *testing.T, env map[string]string, prep func(*boltdb.Store)) (*harness, error) {
	t.Helper()
	cfg, err := config.Parse(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	fan := NewFanout()
	st, err := boltdb.Open(t.TempDir(), boltdb.Options{OnAppend: fan.OnAppend})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if prep != nil {
		prep(st)
	}
	e, err := New(context.Background(), Options{Config: cfg, Fanout: fan, Store: st, DefaultModel: defaultModel(t), Log: slog.New(slog.NewTextHandler(tlog{t}, nil))})
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(e)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Close(ctx)
	})
	return &harness{edge: e, srv: srv, store: st}, nil
}

func (h *harness) do(t *testing.T, method, path, token, body, accept string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func decode[T any](t *testing.T, resp *http.Response) T {
	t.Helper()
	var v T
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", resp.Status, err)
	}
	return v
}

type welcome struct {
	Token          string `json:"token"`
	ConversationID string `json:"conversation_id"`
}

func (h *harness) startConversation(t *testing.T) welcome {
	t.Helper()
	w := decode[welcome](t, h.do(t, "POST", "/v1/conversations", "", "", ""))
	if w.Token == "" || w.ConversationID == "" {
		t.Fatalf("welcome without token or conversation: %+v", w)
	}
	return w
}

type event struct {
	name string
	data map[string]any
}

// send posts a message asking for the event-stream reply and reads it whole.
func (h *harness) send(t *testing.T, w welcome, id, text string) []event {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"id": id, "text": text})
	resp := h.do(t, "POST", "/v1/conversations/"+w.ConversationID+"/messages", w.Token, string(body), "text/event-stream")
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("send: %s %s", resp.Status, b)
	}
	var out []event
	sc := bufio.NewScanner(resp.Body)
	name := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var d map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d); err != nil {
				t.Fatalf("event %s: %v", name, err)
			}
			out = append(out, event{name, d})
		}
	}
	if len(out) == 0 || out[len(out)-1].name != "done" {
		t.Fatalf("stream did not end with done: %v", out)
	}
	return out
}

func TestNoSocketHere(t *testing.T) {
	h := start(t, "")
	for _, tc := range []struct {
		name, method, path string
	}{
		{"visitor socket", "GET", "/v1/ws"},
		{"agent socket", "GET", "/v1/agent/ws"},
		{"admin API", "GET", "/v1/admin/intents"},
		{"an upload", "POST", "/v1/conversations/abc/uploads"},
		{"a part", "POST", "/v1/conversations/abc/uploads/u1"},
		{"an attachment", "GET", "/v1/conversations/abc/attachments/a1"},
		{"a rating", "POST", "/v1/conversations/abc/rating"},
		{"an agent's attachment", "GET", "/v1/agent/conversations/abc/attachments/a1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.do(t, tc.method, tc.path, "", "", "")
			body := decode[struct {
				Error struct{ Code, Message string }
			}](t, resp)
			if resp.StatusCode != http.StatusNotImplemented || body.Error.Code != "not_supported" || body.Error.Message == "" {
				t.Errorf("GET %s: %s %+v, want 501 not_supported with a message", tc.path, resp.Status, body.Error)
			}
		})
	}
	cfg := decode[map[string]any](t, h.do(t, "GET", "/v1/widget/config", "", "", ""))
	if ws, ok := cfg["ws"]; !ok || ws != nil {
		t.Errorf(`config "ws" = %#v (present %v), want null`, ws, ok)
	}
	// No attachments offered: the widget shows no button for them.
	if f, ok := cfg["files"]; !ok || f != nil {
		t.Errorf(`config "files" = %#v (present %v), want null`, f, ok)
	}
}

// TestEdgeCarriesThePolicy: the edge's responses carry the relay's
// security headers too, its error pages included.
func TestEdgeCarriesThePolicy(t *testing.T) {
	h := start(t, "")
	for _, p := range []string{"/widget.js", "/v1/widget/config", "/v1/ws", "/no-such-page"} {
		resp := h.do(t, "GET", p, "", "", "")
		resp.Body.Close()
		if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "frame-ancestors 'none'") {
			t.Errorf("GET %s: CSP %q", p, got)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") == "" {
			t.Errorf("GET %s: %v", p, resp.Header)
		}
	}
}

func TestFAQAndAIOverEventStream(t *testing.T) {
	h := start(t, "Edge answers stream token by token.")
	w := h.startConversation(t)

	faq := h.send(t, w, "q1", "how long does shipping take?")
	if len(faq) < 3 || faq[0].name != "ack" || faq[1].name != "message" || faq[1].data["intent"] != "shipping" {
		t.Fatalf("FAQ reply: %v, want ack, the shipping answer, done", faq)
	}

	ai := h.send(t, w, "q2", "can I pay with a gift card from my aunt?")
	var deltas []string
	var final map[string]any
	for _, e := range ai {
		switch {
		case e.name == "delta" && e.data["text"] != "":
			deltas = append(deltas, e.data["text"].(string))
		case e.name == "message" && e.data["via"] == "ai":
			final = e.data
		}
	}
	if len(deltas) < 2 || final == nil || strings.Join(deltas, "") != final["text"] {
		t.Fatalf("AI reply: %d deltas %q, final %v; want several deltas adding up to the stored answer", len(deltas), deltas, final)
	}

	again := h.send(t, w, "q2", "can I pay with a gift card from my aunt?")
	if again[0].name != "ack" || again[0].data["duplicate"] != true {
		t.Errorf("resend: %v, want a duplicate ack", again[0])
	}
	msgs, err := h.store.Messages(w.ConversationID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 4 {
		t.Errorf("stored %d messages, want 4 (two questions, two answers)", len(msgs))
	}
}

func TestHandOffWithNobodyToTakeOver(t *testing.T) {
	h := start(t, "")
	w := h.startConversation(t)
	events := h.send(t, w, "p1", "I want to talk to a real person")
	var said string
	for _, e := range events {
		if e.name == "message" && e.data["from"] == "system" {
			said, _ = e.data["text"].(string)
		}
	}
	if !strings.Contains(said, "No one from our team") {
		t.Errorf("system message %q, want the no-people text", said)
	}
	c, err := h.store.Conversation(w.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Handler != store.HandlerBot {
		t.Errorf("handler %q after asking for a person, want bot (nobody else answers here)", c.Handler)
	}
}

// A message posted as JSON is answered after the response; Close lets the
// answer finish and be stored, as the Worker does before it ends.
func TestCloseDrainsAnswerOfJSONRequest(t *testing.T) {
	h := start(t, "Answered after the response.")
	w := h.startConversation(t)
	resp := h.do(t, "POST", "/v1/conversations/"+w.ConversationID+"/messages", w.Token,
		`{"id":"j1","text":"is there a loyalty programme for cats?"}`, "application/json")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("send: %s", resp.Status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.edge.Close(ctx)
	msgs, err := h.store.Messages(w.ConversationID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[1].Text != "Answered after the response." || msgs[1].Incomplete {
		t.Errorf("stored %+v, want the question and the complete AI answer", msgs)
	}
}

// TestSealedAIKeyNeedsTheRelaysSecretKey: a relay's "ai" document copied to
// D1 holds the key sealed with the relay's key file; the Worker opens it
// with the same key, given as the secret KEFU_SECRET_KEY.
func TestSealedAIKeyNeedsTheRelaysSecretKey(t *testing.T) {
	const apiKey = "relay-entered-key-123"
	fake := openaitest.New(t, openaitest.Options{Text: "Answered with the relay's key.", RequireKey: apiKey})
	key, keyText := secret.Generate()
	seed := func(st *boltdb.Store) {
		s := ai.DefaultSettings()
		on, base, k := true, fake.BaseURL, apiKey
		s, err := s.Apply(ai.SettingsPatch{Enabled: &on, BaseURL: &base, APIKey: &k})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := s.MarshalStored(key)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutSettingBytes(context.Background(), "ai", raw); err != nil {
			t.Fatal(err)
		}
	}
	for name, env := range map[string]map[string]string{
		"no KEFU_SECRET_KEY":      nil,
		"another KEFU_SECRET_KEY": {"KEFU_SECRET_KEY": func() string { _, k := secret.Generate(); return k }()},
	} {
		t.Run(name, func(t *testing.T) {
			h, err := startWith(t, env, seed)
			if err != nil {
				t.Fatal(err)
			}
			// The conversations' part is what reads the AI settings: it
			// answers 503 and logs why; Open says so up front.
			if resp := h.do(t, "POST", "/v1/conversations", "", "", ""); resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("POST /v1/conversations: %s, want 503", resp.Status)
			}
			err = h.edge.Open(context.Background())
			if err == nil || !strings.Contains(err.Error(), "KEFU_SECRET_KEY") || !strings.Contains(err.Error(), key.ID()) || strings.Contains(err.Error(), apiKey) {
				t.Errorf("Open: %v; want a clear error naming KEFU_SECRET_KEY and the key id %s", err, key.ID())
			}
		})
	}
	h, err := startWith(t, map[string]string{"KEFU_SECRET_KEY": keyText}, seed)
	if err != nil {
		t.Fatal(err)
	}
	w := h.startConversation(t)
	var text string
	for _, e := range h.send(t, w, "q1", "can I pay with a gift card from my aunt?") {
		if e.name == "message" && e.data["via"] == "ai" {
			text, _ = e.data["text"].(string)
		}
	}
	if text != "Answered with the relay's key." {
		t.Errorf("AI answer %q with the relay's key", text)
	}

	// A document from before keys were sealed still works without a key
	// (and stays as it is: the Worker has nothing to seal it with).
	inClear := func(st *boltdb.Store) {
		doc := `{"enabled":true,"base_url":"` + fake.BaseURL + `","api_key":"` + apiKey + `","key_host":"` + fake.URL + `"}`
		if err := st.PutSettingBytes(context.Background(), "ai", []byte(doc)); err != nil {
			t.Fatal(err)
		}
	}
	h, err = startWith(t, nil, inClear)
	if err != nil {
		t.Fatalf("a key in clear without KEFU_SECRET_KEY: %v", err)
	}
	w = h.startConversation(t)
	text = ""
	for _, e := range h.send(t, w, "q1", "can I pay with a gift card from my aunt?") {
		if e.name == "message" && e.data["via"] == "ai" {
			text, _ = e.data["text"].(string)
		}
	}
	if text != "Answered with the relay's key." {
		t.Errorf("AI answer %q with a key in clear", text)
	}
}

// TestAnswersInTheVisitorsLanguage: the edge names a language's answers in
// the widget config and answers a visitor whose widget speaks it in it
// (the default intents are written in every widget language).
func TestAnswersInTheVisitorsLanguage(t *testing.T) {
	h := start(t, "")
	cfg := decode[map[string]any](t, h.do(t, "GET", "/v1/widget/config?lang=ja", "", "", ""))
	ans, _ := cfg["answers"].(map[string]any)
	if ans == nil || !strings.HasPrefix(ans["url"].(string), "/v1/answers/ja/") {
		t.Fatalf("config answers %v", cfg["answers"])
	}
	byIntent := decode[map[string]string](t, h.do(t, "GET", ans["url"].(string), "", "", ""))
	if !strings.Contains(byIntent["shipping"], "発送") {
		t.Errorf("Japanese answers %v", byIntent)
	}
	w := decode[welcome](t, h.do(t, "POST", "/v1/conversations", "", `{"lang":"ja"}`, ""))
	faq := h.send(t, w, "q1", "how long does shipping take?")
	if len(faq) < 2 || faq[1].name != "message" || !strings.Contains(faq[1].data["text"].(string), "発送") {
		t.Fatalf("FAQ reply %v, want the Japanese shipping answer", faq)
	}
}
