package openaitest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// post sends a chat request and returns the response; the body is the
// caller's to close.
func post(t *testing.T, ctx context.Context, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer sk-test-key-1234567890")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func body(model, user string, usage bool) string {
	b, _ := json.Marshal(map[string]any{
		"model":          model,
		"stream":         true,
		"messages":       []Message{{Role: "system", Content: "be kind"}, {Role: "user", Content: user}},
		"stream_options": map[string]bool{"include_usage": usage},
	})
	return string(b)
}

// events reads SSE data payloads until the body ends.
func events(t *testing.T, r io.Reader) ([]string, error) {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 32<<20)
	for sc.Scan() {
		line := sc.Text()
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			out = append(out, d)
		}
	}
	return out, sc.Err()
}

type chunk struct {
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage  *struct{ TotalTokens int } `json:"usage"`
	SentNS int64                      `json:"x_kefu_sent_ns"`
}

func TestNormalWireFormat(t *testing.T) {
	s := New(t, Options{Text: "abcdefghij", ChunkRunes: 3, Stamp: true})
	resp := post(t, t.Context(), s.BaseURL, body("gpt-test", "hi", true))
	defer resp.Body.Close()
	if got, want := resp.Header.Get("Content-Type"), "text/event-stream"; got != want {
		t.Fatalf("content type: got %q, want %q", got, want)
	}
	evs, err := events(t, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := evs[len(evs)-1], "[DONE]"; got != want {
		t.Fatalf("last event: got %q, want %q", got, want)
	}
	var text strings.Builder
	var finish []string
	sawUsage := false
	for _, e := range evs[:len(evs)-1] {
		var c chunk
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatalf("chunk %q: %v", e, err)
		}
		if c.Object != "chat.completion.chunk" || c.Model != "gpt-test" || c.SentNS == 0 {
			t.Errorf("chunk head wrong: %+v", c)
		}
		if c.Usage != nil {
			sawUsage = true
			if len(c.Choices) != 0 {
				t.Errorf("usage chunk has choices: %q", e)
			}
		}
		for _, ch := range c.Choices {
			text.WriteString(ch.Delta.Content)
			if ch.FinishReason != nil {
				finish = append(finish, *ch.FinishReason)
			}
		}
	}
	if got, want := text.String(), "abcdefghij"; got != want {
		t.Errorf("text: got %q, want %q", got, want)
	}
	if got, want := strings.Join(finish, ","), "stop"; got != want {
		t.Errorf("finish reasons: got %q, want %q", got, want)
	}
	if !sawUsage {
		t.Error("no usage chunk although include_usage was set")
	}
	reqs := s.Requests()
	if got, want := len(reqs), 1; got != want {
		t.Fatalf("requests: got %d, want %d", got, want)
	}
	if got, want := reqs[0].Header.Get("Authorization"), "Bearer sk-test-key-1234567890"; got != want {
		t.Errorf("recorded auth: got %q, want %q", got, want)
	}
	if !reqs[0].IncludeUsage || !reqs[0].Stream || len(reqs[0].Messages) != 2 {
		t.Errorf("recorded request wrong: %+v", reqs[0])
	}
}

func TestScenarioSelection(t *testing.T) {
	tests := []struct {
		name    string
		model   string
		user    string
		queue   []Scenario
		want    Scenario
		wantMsg string
	}{
		{name: "default", model: "gpt", user: "hi", want: Normal},
		{name: "model", model: "fake-cut", user: "hi", want: Cut},
		{name: "marker beats model", model: "fake-cut", user: "hi [[fake:echo]] there", want: Echo, wantMsg: "hi  there"},
		{name: "queue", model: "gpt", user: "hi", queue: []Scenario{ServerError}, want: ServerError},
		{name: "unknown marker ignored", model: "gpt", user: "[[fake:nope]]", want: Normal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHandler(Options{})
			h.Enqueue(tt.queue...)
			got, msg := h.pick(chatRequest{Model: tt.model, Messages: []Message{{Role: "user", Content: tt.user}}})
			if got != tt.want {
				t.Errorf("scenario: got %q, want %q", got, tt.want)
			}
			if tt.wantMsg != "" && msg != tt.wantMsg {
				t.Errorf("message: got %q, want %q", msg, tt.wantMsg)
			}
		})
	}
}

func TestErrorScenarios(t *testing.T) {
	tests := []struct {
		name       string
		scenario   Scenario
		wantStatus int
		wantBody   string
		wantHeader string
	}{
		{name: "401 echoes key", scenario: Unauthorized, wantStatus: 401, wantBody: "sk-test-key-1234567890"},
		{name: "429", scenario: RateLimited, wantStatus: 429, wantBody: "rate_limit_exceeded", wantHeader: "Retry-After"},
		{name: "500", scenario: ServerError, wantStatus: 500, wantBody: `"type":"server_error"`},
		{name: "html", scenario: HTMLError, wantStatus: 502, wantBody: "<html>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, Options{Scenario: tt.scenario})
			resp := post(t, t.Context(), s.BaseURL, body("gpt", "hi", false))
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if got := resp.StatusCode; got != tt.wantStatus {
				t.Errorf("status: got %d, want %d", got, tt.wantStatus)
			}
			if !strings.Contains(string(b), tt.wantBody) {
				t.Errorf("body: got %q, want it to contain %q", b, tt.wantBody)
			}
			if tt.wantHeader != "" && resp.Header.Get(tt.wantHeader) == "" {
				t.Errorf("header %s missing", tt.wantHeader)
			}
		})
	}
}

func TestCutAndDrop(t *testing.T) {
	tests := []struct {
		name     string
		scenario Scenario
		wantErr  error
	}{
		{name: "cut ends cleanly", scenario: Cut, wantErr: nil},
		{name: "drop breaks the connection", scenario: Drop, wantErr: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, Options{Scenario: tt.scenario, Text: "one two three four five"})
			resp := post(t, t.Context(), s.BaseURL, body("gpt", "hi", true))
			defer resp.Body.Close()
			evs, err := events(t, resp.Body)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("read error: got %v, want %v", err, tt.wantErr)
			}
			complete := 0
			for _, e := range evs {
				if json.Valid([]byte(e)) {
					complete++
				}
				if e == "[DONE]" || strings.Contains(e, `"finish_reason":"stop"`) {
					t.Errorf("cut stream carried %q", e)
				}
			}
			if got, want := complete, 1+DefaultCutAfter; got != want {
				t.Errorf("events: got %d, want %d", got, want)
			}
		})
	}
}

func TestStallReleasedByClose(t *testing.T) {
	s := Start(Options{Scenario: Stall})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp := post(t, ctx, s.BaseURL, body("gpt", "hi", false))
	defer resp.Body.Close()
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Close did not release a stalled stream")
	}
}

func TestNonStreaming(t *testing.T) {
	s := New(t, Options{Scenario: Echo})
	resp := post(t, t.Context(), s.BaseURL, `{"model":"gpt","messages":[{"role":"user","content":"ping"}]}`)
	defer resp.Body.Close()
	var got struct {
		Object  string
		Choices []struct{ Message Message }
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Object != "chat.completion" || len(got.Choices) != 1 || got.Choices[0].Message.Content != "ping" {
		t.Errorf("got %+v, want an echo of ping", got)
	}
}
