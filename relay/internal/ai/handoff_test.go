package ai

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
)

// TestModelHandoff: the model's tool call or text marker ends the answer
// with ErrHandoff at once, even when the upstream then goes silent. No
// clock in the proof: after the call the fake sends nothing more and holds
// the stream open, and no timeout of the client could end the answer
// before the test's own deadline fails it.
func TestModelHandoff(t *testing.T) {
	tests := []struct {
		name       string
		scenario   openaitest.Scenario
		mode       string
		wantVia    string
		wantReason string
		wantTools  []string
	}{
		{"tool call", openaitest.Tool, HandoffTool, "tool", openaitest.ToolReason, []string{HandoffToolName}},
		{"tool call, then silence", openaitest.ToolStall, HandoffTool, "tool", "", []string{HandoffToolName}},
		{"whole tool call, then silence", openaitest.ToolHold, HandoffTool, "tool", openaitest.ToolReason, []string{HandoffToolName}},
		{"text marker, then silence", openaitest.Marker, HandoffMarkerMode, "marker", "", nil},
		{"text marker in tool mode", openaitest.Marker, HandoffTool, "marker", "", []string{HandoffToolName}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := fakeServer(t, openaitest.Options{Scenario: tt.scenario, Text: "One moment, please.", Words: true, CutAfter: 3})
			o := fastOptions(t)
			o.Timeouts.ChunkGap = 10 * time.Minute // the old way: wait for the stream
			o.Timeouts.Answer = 20 * time.Minute
			c := newTestClient(t, o)
			s := settingsFor(t, fake.BaseURL, testKey)
			s.Handoff = tt.mode
			var col collector
			// A client waiting for the stream fails here, not in 10 min.
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			res, err := c.Stream(ctx, s, BuildMessages(s, nil, userMsgs("I want a refund")), col.onDelta)
			var he *HandoffError
			if !errors.As(err, &he) || !errors.Is(err, ErrHandoff) || errors.Is(err, ErrIncomplete) {
				t.Fatalf("err: got %v, want a HandoffError", err)
			}
			if he.Via != tt.wantVia || (tt.wantReason != "" && he.Reason != tt.wantReason) {
				t.Errorf("got via %q reason %q, want %q %q", he.Via, he.Reason, tt.wantVia, tt.wantReason)
			}
			if strings.TrimSpace(res.Text) != "One moment," || col.text() != res.Text {
				t.Errorf("text: got %q (deltas %q), want the words before the hand-off", res.Text, col.text())
			}
			reqs := fake.Requests()
			if !slices.Equal(reqs[0].Tools, tt.wantTools) {
				t.Errorf("tools offered: got %q, want %q", reqs[0].Tools, tt.wantTools)
			}
			sys := reqs[0].Messages[0].Content
			if wantRule := handoffRule(tt.mode); !strings.Contains(sys, wantRule) {
				t.Errorf("system prompt lacks the %s rule: %q", tt.mode, sys)
			}
			eventually(t, 5*time.Second, "the upstream stream to be closed", func() bool { return fake.Active() == 0 })
		})
	}
}

// TestToolsRefusedFallsBackToMarker: an upstream that refuses the tools
// field is asked again without it, with the marker rule.
func TestToolsRefusedFallsBackToMarker(t *testing.T) {
	fake := fakeServer(t, openaitest.Options{Text: "Hello there.", RejectTools: true})
	c := newTestClient(t, fastOptions(t))
	s := settingsFor(t, fake.BaseURL, testKey)
	res, err := c.Stream(t.Context(), s, BuildMessages(s, nil, userMsgs("hi")), nil)
	if err != nil || res.Text != "Hello there." {
		t.Fatalf("got %q, %v", res.Text, err)
	}
	reqs := fake.Requests()
	if len(reqs) != 2 || len(reqs[0].Tools) != 1 || len(reqs[1].Tools) != 0 {
		t.Fatalf("requests: got %d, tools %v", len(reqs), reqs)
	}
	if sys := reqs[1].Messages[0].Content; !strings.Contains(sys, HandoffMarker) || strings.Contains(sys, HandoffToolName) {
		t.Errorf("second prompt: %q", sys)
	}
}

func TestUpstreamStatusClassMetric(t *testing.T) {
	rec := newRecorder()
	fake := fakeServer(t, openaitest.Options{Text: "ok"})
	o := fastOptions(t)
	o.Metrics = rec
	o.Retry.MaxAttempts = 1
	c := newTestClient(t, o)
	s := settingsFor(t, fake.BaseURL, testKey)
	for _, sc := range []openaitest.Scenario{openaitest.Normal, openaitest.RateLimited, openaitest.ServerError, openaitest.Unauthorized, openaitest.Normal} {
		fake.Enqueue(sc)
		_, _ = c.Stream(t.Context(), s, BuildMessages(s, nil, userMsgs("hi")), nil)
	}
	want := map[string]float64{"2xx": 2, "429": 1, "5xx": 1, "4xx": 1}
	for class, n := range want {
		if got := rec.get("response " + class); got != n {
			t.Errorf("class %s: got %v, want %v", class, got, n)
		}
	}
	if got := rec.get("upstream request"); got != 5 {
		t.Errorf("upstream requests: got %v, want 5", got)
	}
}
