package bot_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/protocol"
)

// lastDeltaAt returns when the visitor got the last text delta before the
// hand-off notice (the moment the model's call or marker followed it), or
// the zero time if none came.
func (v *visitor) lastDeltaAt() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	var at time.Time
	for i, e := range v.ev {
		if e.typ == protocol.TypeDelta && !strings.Contains(string(e.raw), `"done":true`) {
			at = v.at[i]
		}
	}
	return at
}

// TestModelAndUpstreamHandOffInTheVisitorsLanguage: the fake upstream
// answers with a tool call, a text marker, a long Retry-After, a stall in
// the middle of an answer; each time the conversation is handed off with a
// notice in the visitor's language, at the call or the decision.
//
// The proof does not rest on the clock (a loaded box stretches any bound):
// after a call or a marker the fake holds its stream open, sending nothing
// more, and no timeout could fire before the test gives up (chunk gap
// 10 min), so a notice can only come from acting on the call itself (the
// reason "model" says the same); after a long Retry-After the fake was
// asked exactly once (no retry, no wait for the budget, reason
// "rate_limited"); a stall is told by its "still working" frame, and the
// chunk-gap decision's notice follows it (reason "ai_failed"). How long
// each took is logged.
func TestModelAndUpstreamHandOffInTheVisitorsLanguage(t *testing.T) {
	tests := []struct {
		name     string
		lang     string // what the visitor's widget says in hello ("": nothing, a guess from the script)
		scenario openaitest.Scenario
		question string
		want     string // part of the notice, in the visitor's language
		gap      time.Duration
		working  bool // a "still working" typing frame comes first
	}{
		{"tool call (de)", "de", openaitest.ToolStall, "Ich möchte eine Rückerstattung für meine Bestellung", "Gerade ist niemand aus unserem Team online", 10 * time.Minute, false},
		{"tool call, arguments streamed (ko, from the script)", "", openaitest.ToolHold, "환불을 받고 싶어요", "지금은 온라인 상태인 상담원이 없습니다", 10 * time.Minute, false},
		{"text marker (fr)", "fr", openaitest.Marker, "Bonjour, je veux un remboursement pour ma commande", "Personne de notre équipe n'est en ligne", 10 * time.Minute, false},
		{"Retry-After past the budget (es)", "es", openaitest.RateLimitedLong, "Hola, ¿dónde está mi pedido?", "Lo siento, no he podido responder", 10 * time.Minute, false},
		{"stall mid-answer (ja)", "ja", openaitest.Stall, "注文した商品はいつ届きますか", "ただいま対応できる担当者がおりません", 3 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := openaitest.New(t, openaitest.Options{Text: "Einen Moment bitte, ich sehe nach.", Words: true, Delay: 20 * time.Millisecond, CutAfter: 3})
			up.SetScenario(tt.scenario)
			r := apptest.Start(t, func(c *config.Config) {
				withAI(up)(c)
				c.AIFirstToken, c.AIChunkGap, c.AIAnswerTimeout = 20*time.Second, tt.gap, 20*time.Minute
				c.AIStillWorking = time.Second
				c.MetricsToken = metricsToken
			})
			v := dial(t, r, client.Options{Lang: tt.lang})
			sent := time.Now()
			v.send(tt.question)
			sys := v.waitMessage(isSystem)
			got := v.arrival(sys.Seq)
			if !strings.Contains(sys.Text, tt.want) {
				t.Errorf("notice %q, want it to contain %q", sys.Text, tt.want)
			}
			// From the call, the marker, the refusal, or (stall) the
			// chunk-gap decision.
			from := v.lastDeltaAt()
			if from.IsZero() {
				from = sent
			}
			if tt.working {
				from = from.Add(tt.gap)
			}
			t.Logf("hand-off notice %v after the call or decision", got.Sub(from))
			if n := len(up.Requests()); n != 1 {
				t.Errorf("the fake was asked %d times, want once (no retry)", n)
			}
			if conv := waitFrame(t, v, protocol.TypeConversation); conv["handler"] != "queue" {
				t.Errorf("conversation frame %v", conv)
			}
			// The "still working" frame, if any, came before the notice.
			sawWorking := false
			for _, e := range v.events() {
				if e.typ == protocol.TypeMessage && e.msg.Seq == sys.Seq {
					break
				}
				if e.typ == protocol.TypeTyping && strings.Contains(string(e.raw), `"status":"working"`) {
					sawWorking = true
				}
			}
			if sawWorking != tt.working {
				t.Errorf("still-working frame: got %v, want %v", sawWorking, tt.working)
			}
			// What the model said before asking is kept, not marked
			// incomplete (it asked; nothing broke).
			for _, e := range v.events() {
				if e.typ == protocol.TypeMessage && e.msg.From == protocol.FromBot {
					if wantInc := tt.scenario == openaitest.Stall; e.msg.Incomplete != wantInc {
						t.Errorf("answer %q incomplete=%v, want %v", e.msg.Text, e.msg.Incomplete, wantInc)
					}
				}
			}
			metrics := get(t, r.URL+"/metrics", metricsToken)
			wantReason := map[openaitest.Scenario]string{openaitest.ToolStall: "model", openaitest.ToolHold: "model", openaitest.Marker: "model",
				openaitest.RateLimitedLong: "rate_limited", openaitest.Stall: "ai_failed"}[tt.scenario]
			if !strings.Contains(metrics, `kefu_handoffs_total{reason="`+wantReason+`",to="queue"} 1`) {
				t.Errorf("metrics lack the hand-off reason %s", wantReason)
			}
		})
	}
}

const metricsToken = "metrics-token-for-bot-tests"

// get fetches url with a bearer token, and returns the body.
func get(t *testing.T, url, token string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestPollingClientGetsTheWholeAnswer: a client that posts over HTTP and
// polls holds no socket, yet its answer is streamed to the end and stored
// complete, although it outlasts --ai-abandon-after many times over.
func TestPollingClientGetsTheWholeAnswer(t *testing.T) {
	text := strings.Repeat("Our shop ships within two days. ", 12)
	up := openaitest.New(t, openaitest.Options{Text: text, Words: true, Delay: 25 * time.Millisecond})
	r := apptest.Start(t, func(c *config.Config) {
		withAI(up)(c)
		c.AIChunkGap, c.AIAnswerTimeout = 5*time.Second, 60*time.Second
		c.AIAbandonAfter = 300 * time.Millisecond
	})
	var w protocol.Welcome
	json.Unmarshal(r.VisitorPost(t, "/v1/conversations", "", map[string]any{}), &w)
	r.VisitorPost(t, "/v1/conversations/"+w.ConversationID+"/messages", w.Token, map[string]string{"id": "m1", "text": "tell me the story of your company"})
	started := time.Now()
	// Poll rarely: the answer takes ~2.5 s, --ai-abandon-after is 0.3 s.
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest("GET", r.URL+"/v1/conversations/"+w.ConversationID+"/messages", nil)
		req.Header.Set("Authorization", "Bearer "+w.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var list struct{ Messages []protocol.Message }
		json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		for _, m := range list.Messages {
			if m.From == protocol.FromBot {
				if m.Incomplete || m.Text != text {
					t.Fatalf("answer after %v: incomplete=%v text %q", time.Since(started), m.Incomplete, m.Text)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no answer stored")
		}
		time.Sleep(time.Second)
	}
}
