package visitor_test

import (
	"bufio"
	"context"
	"encoding/json"
	"github.com/kefuhq/kefu/relay/internal/i18n"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/protocol"
)

type sse struct {
	event string
	data  map[string]any
}

// do sends a request to the relay and returns the response.
func do(t *testing.T, method, url, token, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func decode(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", resp.Status, err)
	}
	return m
}

// readSSE reads events until the stream ends or stop says so.
func readSSE(t *testing.T, resp *http.Response, stop func(sse) bool) []sse {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("content type %q: %s", ct, b)
	}
	var out []sse
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var cur sse
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			cur.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data)
		case line == "" && cur.event != "":
			out = append(out, cur)
			if stop != nil && stop(cur) {
				return out
			}
			cur = sse{}
		}
	}
	return out
}

func start(t *testing.T, r *apptest.Relay) (token, conv string) {
	t.Helper()
	resp := do(t, "POST", r.URL+"/v1/conversations", "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("start: %s", resp.Status)
	}
	w := decode(t, resp)
	return w["token"].(string), w["conversation_id"].(string)
}

func withAI(up *openaitest.Server) func(*config.Config) {
	return func(c *config.Config) {
		c.OpenAIBaseURL, c.OpenAIAPIKey = up.BaseURL, "sk-test-http"
		c.AIFirstToken, c.AIChunkGap, c.AIAnswerTimeout = 2*time.Second, 2*time.Second, 5*time.Second
	}
}

func TestHTTPStartAndResume(t *testing.T) {
	r := apptest.Start(t, nil)
	tok, conv := start(t, r)
	w := decode(t, do(t, "POST", r.URL+"/v1/conversations", tok, `{"conversation_id":"`+conv+`","last_seq":0}`))
	if w["resume"] != protocol.ResumeOK || w["conversation_id"] != conv || w["token"] != nil {
		t.Errorf("resume: %v", w)
	}
	w = decode(t, do(t, "POST", r.URL+"/v1/conversations", "never-issued", ""))
	if w["resume"] != protocol.ResumeReset || w["token"] == nil {
		t.Errorf("unknown token: %v", w)
	}
}

func TestHTTPSendJSONIdempotent(t *testing.T) {
	r := apptest.Start(t, nil)
	tok, conv := start(t, r)
	url := r.URL + "/v1/conversations/" + conv + "/messages"
	a1 := decode(t, do(t, "POST", url, tok, `{"id":"m1","text":"hello"}`))
	a2 := decode(t, do(t, "POST", url, tok, `{"id":"m1","text":"hello"}`))
	if a1["seq"] != float64(1) || a2["seq"] != float64(1) || a2["duplicate"] != true {
		t.Errorf("acks %v %v", a1, a2)
	}
	list := decode(t, do(t, "GET", url+"?after=0", tok, ""))
	msgs := list["messages"].([]any)
	if len(msgs) < 1 || msgs[0].(map[string]any)["text"] != "hello" {
		t.Errorf("list %v", list)
	}
}

func TestHTTPSSEFAQAnswer(t *testing.T) {
	r := apptest.Start(t, nil)
	tok, conv := start(t, r)
	resp := do(t, "POST", r.URL+"/v1/conversations/"+conv+"/messages", tok, `{"id":"q","text":"how long does shipping take?"}`, "Accept", "text/event-stream")
	ev := readSSE(t, resp, nil)
	names := eventNames(ev)
	if names != "ack message done" {
		t.Fatalf("events %q", names)
	}
	if ev[1].data["from"] != "bot" || ev[1].data["intent"] != "shipping" {
		t.Errorf("answer %v", ev[1].data)
	}
}

func TestHTTPSSEStreamsAIAnswer(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{Text: "Streaming over plain HTTP works fine.", ChunkRunes: 4, Delay: 5 * time.Millisecond})
	r := apptest.Start(t, withAI(up))
	tok, conv := start(t, r)
	resp := do(t, "POST", r.URL+"/v1/conversations/"+conv+"/messages", tok, `{"id":"q","text":"tell me about your company"}`, "Accept", "text/event-stream")
	ev := readSSE(t, resp, nil)
	var sb strings.Builder
	deltas := 0
	var final map[string]any
	for _, e := range ev {
		switch e.event {
		case "delta":
			if t, _ := e.data["text"].(string); t != "" {
				sb.WriteString(t)
				deltas++
			}
		case "message":
			final = e.data
		}
	}
	if ev[0].event != "ack" || ev[len(ev)-1].event != "done" {
		t.Errorf("events %q", eventNames(ev))
	}
	if deltas < 3 || final == nil || final["text"] != sb.String() || sb.String() != "Streaming over plain HTTP works fine." {
		t.Errorf("%d deltas %q, final %v", deltas, sb.String(), final)
	}
}

func TestHTTPSSEHandOffWhenUpstreamDown(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{})
	r := apptest.Start(t, withAI(up))
	up.Close()
	tok, conv := start(t, r)
	resp := do(t, "POST", r.URL+"/v1/conversations/"+conv+"/messages", tok, `{"id":"q","text":"tell me about your company"}`, "Accept", "text/event-stream")
	ev := readSSE(t, resp, nil)
	found := false
	for _, e := range ev {
		if e.event == "message" && e.data["from"] == "system" && strings.Contains(e.data["text"].(string), "person") {
			found = true
		}
	}
	if !found {
		t.Errorf("no hand-off message in %q", eventNames(ev))
	}
}

// The HTTP start says the widget's language as hello does: the hand-off
// then reads in it, though the visitor writes English.
func TestHTTPStartInALanguage(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{})
	r := apptest.Start(t, withAI(up))
	up.Close()
	w := decode(t, do(t, "POST", r.URL+"/v1/conversations", "", `{"last_seq":0,"lang":"fr-CA"}`))
	tok, conv := w["token"].(string), w["conversation_id"].(string)
	resp := do(t, "POST", r.URL+"/v1/conversations/"+conv+"/messages", tok, `{"id":"q","text":"tell me about your company"}`, "Accept", "text/event-stream")
	// Why, then what happens next: nobody is online in this relay, and
	// no schedule says when someone will be, so it asks for an email.
	want := i18n.Builtin().Relay("fr", "handoffWhyFailed") + " " + i18n.Builtin().Relay("fr", "handoffOffline") + " " + i18n.Builtin().Relay("fr", "handoffContact")
	var got []string
	for _, e := range readSSE(t, resp, nil) {
		if e.event == "message" && e.data["from"] == "system" {
			got = append(got, e.data["text"].(string))
		}
	}
	if len(got) != 1 || got[0] != want {
		t.Errorf("system messages %q, want [%q]", got, want)
	}
	if res := do(t, "POST", r.URL+"/v1/conversations", tok, `{"last_seq":0,"lang":"fr CA"}`); res.StatusCode != 400 {
		t.Errorf("a malformed lang: %s, want 400", res.Status)
	}
}

func TestHTTPEventsReplayThenLive(t *testing.T) {
	r := apptest.Start(t, nil)
	tok, conv := start(t, r)
	url := r.URL + "/v1/conversations/" + conv
	do(t, "POST", url+"/messages", tok, `{"id":"a","text":"first"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Last-Event-ID", "0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	go func() {
		time.Sleep(100 * time.Millisecond)
		do(t, "POST", url+"/messages", tok, `{"id":"b","text":"second"}`)
	}()
	var texts []string
	readSSE(t, resp, func(e sse) bool {
		if e.event == "message" && e.data["from"] == "visitor" {
			texts = append(texts, e.data["text"].(string))
		}
		return len(texts) == 2
	})
	if strings.Join(texts, ",") != "first,second" {
		t.Errorf("got %v", texts)
	}
}

func TestHTTPErrors(t *testing.T) {
	r := apptest.Start(t, func(c *config.Config) {
		c.AllowedOrigins = []string{"shop.example.com"}
		c.RatePerVisitor = 1
	})
	tok, conv := start(t, r)
	_, other := start(t, r)
	url := r.URL + "/v1/conversations/" + conv + "/messages"
	tests := []struct {
		name, method, url, token, body string
		header                         []string
		status                         int
		code                           protocol.Code
	}{
		{"no token", "POST", url, "", `{"id":"x","text":"hi"}`, nil, 401, protocol.CodeUnauthorized},
		{"unknown token", "POST", url, "nope", `{"id":"x","text":"hi"}`, nil, 401, protocol.CodeUnauthorized},
		{"someone else's conversation", "GET", r.URL + "/v1/conversations/" + other + "/messages", tok, "", nil, 404, protocol.CodeNotFound},
		{"wrong origin", "POST", url, tok, `{"id":"x","text":"hi"}`, []string{"Origin", "https://evil.example"}, 403, protocol.CodeOriginNotAllowed},
		{"unknown field", "POST", url, tok, `{"id":"x","text":"hi","role":"system"}`, nil, 400, protocol.CodeUnknownField},
		{"bad id", "POST", url, tok, `{"id":"has space","text":"hi"}`, nil, 400, protocol.CodeBadField},
		{"blank text", "POST", url, tok, `{"id":"x","text":"  "}`, nil, 400, protocol.CodeBadField},
		{"too long", "POST", url, tok, `{"id":"x","text":"` + strings.Repeat("a", 5000) + `"}`, nil, 413, protocol.CodeMessageTooLong},
		{"bad after", "GET", url + "?after=x", tok, "", nil, 400, protocol.CodeBadField},
		// The socket's decoder: what encoding/json alone would let through.
		{"case-folded key", "POST", url, tok, `{"ID":"x","text":"hi"}`, nil, 400, protocol.CodeUnknownField},
		{"duplicate key", "POST", url, tok, `{"id":"x","text":"hi","text":"bye"}`, nil, 400, protocol.CodeDuplicateKey},
		{"wrong type", "POST", url, tok, `{"id":"x","text":["hi"]}`, nil, 400, protocol.CodeBadField},
		{"trailing data", "POST", url, tok, `{"id":"x","text":"hi"}{"id":"y","text":"hi"}`, nil, 400, protocol.CodeBadFrame},
		{"invalid utf8", "POST", url, tok, "{\"id\":\"x\",\"text\":\"\xff\"}", nil, 400, protocol.CodeBadUTF8},
		{"not an object", "POST", url, tok, `"hi"`, nil, 400, protocol.CodeBadFrame},
		{"oversize", "POST", url, tok, `{"id":"x","text":"` + strings.Repeat("a", 20000) + `"}`, nil, 413, protocol.CodeFrameTooBig},
		{"start: unknown field", "POST", r.URL + "/v1/conversations", tok, `{"last_seq":0,"Last_Seq":1}`, nil, 400, protocol.CodeUnknownField},
		{"start: negative seq", "POST", r.URL + "/v1/conversations", tok, `{"last_seq":-1}`, nil, 400, protocol.CodeBadField},
		{"start: trailing data", "POST", r.URL + "/v1/conversations", tok, `{"last_seq":0} 1`, nil, 400, protocol.CodeBadFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := storedCount(t, r, conv)
			resp := do(t, tt.method, tt.url, tt.token, tt.body, tt.header...)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if e := decode(t, resp)["error"].(map[string]any); e["code"] != string(tt.code) || e["message"] == "" {
				t.Errorf("error %v, want %s", e, tt.code)
			}
			if after := storedCount(t, r, conv); after != before {
				t.Errorf("a refused request stored %d messages", after-before)
			}
		})
	}
	// Rate: one per second with a burst of two.
	codes := []int{}
	for i := range 4 {
		codes = append(codes, do(t, "POST", url, tok, `{"id":"r`+string(rune('a'+i))+`","text":"hi"}`).StatusCode)
	}
	if codes[3] != 429 {
		t.Errorf("statuses %v, want the last refused with 429", codes)
	}
	// An allowed site gets CORS answers, including the preflight.
	resp := do(t, "OPTIONS", url, "", "", "Origin", "https://shop.example.com", "Access-Control-Request-Method", "POST")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight %s %v", resp.Status, resp.Header)
	}
}

func storedCount(t *testing.T, r *apptest.Relay, conv string) int {
	t.Helper()
	msgs, err := r.Store.Messages(conv, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(msgs)
}

func eventNames(ev []sse) string {
	var n []string
	for _, e := range ev {
		n = append(n, e.event)
	}
	return strings.Join(n, " ")
}

// A relay stopping closes long-lived event streams instead of waiting for
// them, and says why.
func TestHTTPEventsEndAtShutdown(t *testing.T) {
	r := apptest.Start(t, nil)
	tok, conv := start(t, r)
	req, _ := http.NewRequest("GET", r.URL+"/v1/conversations/"+conv+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan []sse, 1)
	go func() { events <- readSSE(t, resp, nil) }()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if err := r.Stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown waited %s for an open event stream", d)
	}
	select {
	case ev := <-events:
		if len(ev) == 0 || ev[len(ev)-1].event != "error" || ev[len(ev)-1].data["code"] != string(protocol.CodeShuttingDown) {
			t.Errorf("stream ended with %v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("event stream still open")
	}
}
