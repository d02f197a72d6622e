package openaitest

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Hello! This is it.", []string{"Hello", "!", " This", " is", " it", "."}},
		{"don't stop", []string{"don't", " stop"}},
		{"a  b", []string{"a", "  b"}},
		{"你好，世界", []string{"你好", "，", "世界"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := splitWords(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitWords(%q): got %q, want %q", tt.in, got, tt.want)
		}
		if got := strings.Join(splitWords(tt.in), ""); got != tt.in {
			t.Errorf("splitWords(%q) joined: got %q", tt.in, got)
		}
	}
}

type toolChunk struct {
	Choices []struct {
		Delta struct {
			Content   string `json:"content"`
			ToolCalls []struct {
				Index    *int   `json:"index"`
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
}

func TestToolCallScenario(t *testing.T) {
	s := New(t, Options{Text: "One moment please.", Words: true, CutAfter: 2})
	resp := post(t, t.Context(), s.BaseURL, body("gpt", "refund [[fake:tool]]", false))
	defer resp.Body.Close()
	evs, err := events(t, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if evs[len(evs)-1] != "[DONE]" {
		t.Fatalf("last event %q", evs[len(evs)-1])
	}
	var text, name, args, finish string
	for _, e := range evs[:len(evs)-1] {
		var c toolChunk
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatalf("chunk %q: %v", e, err)
		}
		for _, ch := range c.Choices {
			text += ch.Delta.Content
			for _, tc := range ch.Delta.ToolCalls {
				if tc.Index == nil || *tc.Index != 0 {
					t.Errorf("tool call without index 0: %q", e)
				}
				name += tc.Function.Name
				args += tc.Function.Arguments
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
	if text != "One moment" || name != ToolName || finish != "tool_calls" {
		t.Errorf("got text %q, name %q, finish %q", text, name, finish)
	}
	var a struct{ Reason string }
	if err := json.Unmarshal([]byte(args), &a); err != nil || a.Reason != ToolReason {
		t.Errorf("arguments %q: %v", args, err)
	}
}

func TestToolsRecorded(t *testing.T) {
	s := New(t, Options{})
	b := `{"model":"gpt","stream":true,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"transfer_to_human","parameters":{}}}]}`
	resp := post(t, t.Context(), s.BaseURL, b)
	resp.Body.Close()
	if got := s.Requests()[0].Tools; !reflect.DeepEqual(got, []string{"transfer_to_human"}) {
		t.Errorf("tools: got %q", got)
	}
}

func TestMarkerAndToolStallHold(t *testing.T) {
	for _, sc := range []Scenario{Marker, ToolStall} {
		t.Run(string(sc), func(t *testing.T) {
			s := New(t, Options{Text: "Let me check.", Words: true})
			ctx, cancel := context.WithCancel(t.Context())
			resp := post(t, ctx, s.BaseURL, body("fake-"+string(sc), "hi", false))
			// Read until the hand-off shows, then the stream must stay open.
			buf := make([]byte, 64<<10)
			var got strings.Builder
			want := `">>"`
			if sc == ToolStall {
				want = ToolName
			}
			for !strings.Contains(got.String(), want) {
				n, err := resp.Body.Read(buf)
				if err != nil {
					t.Fatalf("read: %v (got %q)", err, got.String())
				}
				got.Write(buf[:n])
			}
			if strings.Contains(got.String(), "[DONE]") {
				t.Fatalf("stream ended: %q", got.String())
			}
			cancel()
			resp.Body.Close()
			deadline := time.Now().Add(10 * time.Second)
			for s.Active() > 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if s.Active() > 0 {
				t.Fatal("stream still held after the client left")
			}
		})
	}
}

func TestRateLimitedLong(t *testing.T) {
	s := New(t, Options{})
	resp := post(t, t.Context(), s.BaseURL, body("fake-429long", "hi", false))
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "60" {
		t.Errorf("got %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
