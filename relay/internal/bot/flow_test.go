package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// visitor is a client that records every frame it gets, in order.
type visitor struct {
	t  *testing.T
	c  *client.Client
	mu sync.Mutex
	ev []event
	at []time.Time // when each event arrived
	ch chan struct{}
}

type event struct {
	typ string
	msg protocol.Message
	raw []byte
}

func dial(t *testing.T, r *apptest.Relay, opts client.Options) *visitor {
	t.Helper()
	v := &visitor{t: t, ch: make(chan struct{}, 1)}
	opts.URL = r.WS
	opts.OnMessage = func(m protocol.Message) { v.add(event{typ: protocol.TypeMessage, msg: m}) }
	opts.OnFrame = func(typ string, raw []byte) { v.add(event{typ: typ, raw: append([]byte(nil), raw...)}) }
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	v.c = c
	return v
}

func (v *visitor) add(e event) {
	v.mu.Lock()
	v.ev = append(v.ev, e)
	v.at = append(v.at, time.Now())
	v.mu.Unlock()
	select {
	case v.ch <- struct{}{}:
	default:
	}
}

func (v *visitor) events() []event {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]event(nil), v.ev...)
}

// waitMessage waits for a stored message matching ok.
func (v *visitor) waitMessage(ok func(protocol.Message) bool) protocol.Message {
	v.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		for _, e := range v.events() {
			if e.typ == protocol.TypeMessage && ok(e.msg) {
				return e.msg
			}
		}
		select {
		case <-v.ch:
		case <-deadline:
			v.t.Fatalf("no such message; got %v", v.messages())
		}
	}
}

// arrival is when the stored message seq arrived.
func (v *visitor) arrival(seq uint64) time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, e := range v.ev {
		if e.typ == protocol.TypeMessage && e.msg.Seq == seq {
			return v.at[i]
		}
	}
	return time.Time{}
}

func (v *visitor) messages() []string {
	var out []string
	for _, e := range v.events() {
		if e.typ == protocol.TypeMessage {
			out = append(out, fmt.Sprintf("%d %s/%s %q", e.msg.Seq, e.msg.From, e.msg.Via, e.msg.Text))
		}
	}
	return out
}

func (v *visitor) deltas(streamID string) []protocol.Delta {
	var out []protocol.Delta
	for _, e := range v.events() {
		if e.typ != protocol.TypeDelta {
			continue
		}
		var d protocol.Delta
		json.Unmarshal(e.raw, &d)
		if streamID == "" || d.StreamID == streamID {
			out = append(out, d)
		}
	}
	return out
}

func (v *visitor) send(text string) protocol.Ack {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := v.c.Send(ctx, text)
	if err != nil {
		v.t.Fatal(err)
	}
	return a
}

func fromBot(via string) func(protocol.Message) bool {
	return func(m protocol.Message) bool { return m.From == protocol.FromBot && m.Via == via }
}

func isSystem(m protocol.Message) bool { return m.From == protocol.FromSystem }

// withAI points the relay at a fake upstream.
func withAI(up *openaitest.Server) func(*config.Config) {
	return func(c *config.Config) {
		c.OpenAIBaseURL = up.BaseURL
		c.OpenAIAPIKey = "sk-test-key-0123456789"
		c.AIFirstToken, c.AIChunkGap, c.AIAnswerTimeout = 2*time.Second, 2*time.Second, 5*time.Second
	}
}

func TestRelayAnswersFAQWhenBrowserCouldNot(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{})
	r := apptest.Start(t, withAI(up))
	v := dial(t, r, client.Options{})
	a := v.send("how long does shipping take?")
	got := v.waitMessage(fromBot("relay"))
	if got.Intent != "shipping" || got.Seq != a.Seq+1 || got.Author != "FAQ" || got.Text == "" {
		t.Errorf("answer %+v after question seq %d", got, a.Seq)
	}
	if up.Count() != 0 {
		t.Errorf("the AI was asked %d times for an FAQ", up.Count())
	}
}

func TestBrowserAnsweredIntentStoredOnce(t *testing.T) {
	r := apptest.Start(t, nil)
	raw := dialRaw(t, r)
	raw.send(`{"type":"message","id":"q1","text":"when will my parcel arrive","intent":"shipping"}`)
	q := raw.nextMessage()
	ans := raw.nextMessage()
	if q["via"] != "browser" || ans["from"] != protocol.FromBot || ans["via"] != "browser" || ans["intent"] != "shipping" {
		t.Fatalf("question %v answer %v", q, ans)
	}
	// The relay stored its own answer text, whatever the client claims.
	if !strings.Contains(strings.ToLower(ans["text"].(string)), "ship") {
		t.Errorf("answer text %q", ans["text"])
	}
	// No second answer from the relay follows.
	raw.send(`{"type":"typing","on":false}`)
	time.Sleep(200 * time.Millisecond)
	msgs, _ := r.Store.Messages(raw.conv, 0, 0)
	if len(msgs) != 2 {
		t.Errorf("stored %d messages, want question and answer", len(msgs))
	}
}

func TestForgedIntentIsNotStoredAsAnswer(t *testing.T) {
	r := apptest.Start(t, nil)
	raw := dialRaw(t, r)
	// "human" is a hand-off intent, "nope" does not exist: neither has an
	// answer the browser could have shown.
	raw.send(`{"type":"message","id":"q1","text":"hello there","intent":"nope"}`)
	q := raw.nextMessage()
	if q["via"] != nil && q["via"] != "" {
		t.Errorf("forged intent accepted: %v", q)
	}
}

func TestAIStreamsTokenByTokenToEveryTab(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{Text: "Our store sells bicycles and spare parts in three cities.", ChunkRunes: 3, Delay: 5 * time.Millisecond})
	r := apptest.Start(t, withAI(up))
	a := dial(t, r, client.Options{})
	tok, _, _ := a.c.State()
	b := dial(t, r, client.Options{Token: tok})
	a.send("tell me about your company")
	for _, v := range []*visitor{a, b} {
		final := v.waitMessage(fromBot("ai"))
		waitDone(t, v, final.StreamID)
		if final.Text != "Our store sells bicycles and spare parts in three cities." || final.Incomplete || final.StreamID == "" {
			t.Fatalf("final %+v", final)
		}
		ds := v.deltas(final.StreamID)
		var sb strings.Builder
		last := 0
		for _, d := range ds {
			if d.Done {
				continue
			}
			// Pieces may arrive merged (a connection that fell behind gets
			// one frame for several): indexes only ever grow.
			if d.Index <= last {
				t.Errorf("delta index %d after %d", d.Index, last)
			}
			last = d.Index
			sb.WriteString(d.Text)
		}
		if len(ds) < 5 || sb.String() != final.Text {
			t.Errorf("%d deltas joined to %q", len(ds), sb.String())
		}
		if !ds[len(ds)-1].Done {
			t.Error("stream not closed with done")
		}
	}
	req := up.Requests()[0]
	last := req.Messages[len(req.Messages)-1]
	if last.Role != "user" || last.Content != "tell me about your company" {
		t.Errorf("upstream got %+v", last)
	}
}

func TestUpstreamDownHandsOffWithinASecond(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{})
	r := apptest.Start(t, withAI(up))
	up.Close() // the upstream is gone
	v := dial(t, r, client.Options{})
	start := time.Now()
	v.send("can you help me with something unusual?")
	m := v.waitMessage(isSystem)
	if took := time.Since(start); took > time.Second {
		t.Errorf("hand-off message after %s", took)
	}
	if !strings.Contains(m.Text, "person") {
		t.Errorf("hand-off text %q", m.Text)
	}
	conv := waitFrame(t, v, protocol.TypeConversation)
	if conv["handler"] != "queue" {
		t.Errorf("conversation frame %v", conv)
	}
	// Once queued, the AI stays out: the next message gets no bot answer.
	v.send("hello?")
	time.Sleep(300 * time.Millisecond)
	for _, s := range v.messages() {
		if strings.Contains(s, "bot/ai") {
			t.Errorf("AI answered a queued conversation: %s", s)
		}
	}
}

func TestScenariosHandOff(t *testing.T) {
	tests := []struct {
		name, marker   string
		wantIncomplete bool
	}{
		{name: "500", marker: "[[fake:500]]"},
		{name: "401 echoing the key", marker: "[[fake:401]]"},
		{name: "HTML error page", marker: "[[fake:html]]"},
		{name: "cut mid-way", marker: "[[fake:cut]]", wantIncomplete: true},
		{name: "stall", marker: "[[fake:stall]]", wantIncomplete: true},
		{name: "keep-alive comments only", marker: "[[fake:keepalive]]"},
		{name: "no DONE", marker: "[[fake:nodone]]", wantIncomplete: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := openaitest.New(t, openaitest.Options{})
			r := apptest.Start(t, withAI(up))
			v := dial(t, r, client.Options{})
			v.send("tell me about your company " + tt.marker)
			sys := v.waitMessage(isSystem)
			if !strings.Contains(sys.Text, "person") {
				t.Errorf("hand-off text %q", sys.Text)
			}
			var ai *protocol.Message
			for _, e := range v.events() {
				if e.typ == protocol.TypeMessage && e.msg.From == protocol.FromBot {
					m := e.msg
					ai = &m
				}
			}
			if tt.wantIncomplete {
				if ai == nil || !ai.Incomplete || ai.Text == "" {
					t.Errorf("want the partial answer stored incomplete, got %+v", ai)
				}
			} else if ai != nil {
				t.Errorf("no answer expected, got %+v", ai)
			}
			for _, s := range v.messages() {
				if strings.Contains(s, "sk-test-key") {
					t.Errorf("key leaked to the visitor: %s", s)
				}
			}
		})
	}
}

func TestVisitorAskingForAPersonSkipsTheAI(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{})
	r := apptest.Start(t, withAI(up))
	for _, q := range []string{"I want to talk to a real person", "转人工"} {
		v := dial(t, r, client.Options{})
		v.send(q)
		m := v.waitMessage(isSystem)
		if q == "转人工" && !strings.Contains(m.Text, "客服") {
			t.Errorf("Chinese visitor got %q", m.Text)
		}
	}
	if up.Count() != 0 {
		t.Errorf("AI called %d times", up.Count())
	}
}

func TestAIOffHandsOff(t *testing.T) {
	r := apptest.Start(t, nil) // no key, no base URL: AI off
	v := dial(t, r, client.Options{})
	v.send("something no intent covers")
	if m := v.waitMessage(isSystem); !strings.Contains(m.Text, "person") {
		t.Errorf("got %q", m.Text)
	}
}

// Two conversations streaming at once: each gets only its own deltas, and
// each upstream request holds only its own visitor's words.
func TestConcurrentStreamsNeverMix(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{Scenario: openaitest.Echo, ChunkRunes: 2, Delay: 3 * time.Millisecond})
	r := apptest.Start(t, withAI(up))
	a := dial(t, r, client.Options{})
	b := dial(t, r, client.Options{})
	var wg sync.WaitGroup
	for _, p := range []struct {
		v    *visitor
		text string
	}{{a, "alpha alpha alpha alpha"}, {b, "bravo bravo bravo bravo"}} {
		wg.Add(1)
		go func() { defer wg.Done(); p.v.send(p.text) }()
	}
	wg.Wait()
	for _, p := range []struct {
		v          *visitor
		mine, them string
	}{{a, "alpha", "bravo"}, {b, "bravo", "alpha"}} {
		final := p.v.waitMessage(fromBot("ai"))
		if !strings.Contains(final.Text, p.mine) || strings.Contains(final.Text, p.them) {
			t.Errorf("answer %q", final.Text)
		}
		for _, d := range p.v.deltas("") {
			if strings.Contains(d.Text, p.them) {
				t.Errorf("foreign delta %q", d.Text)
			}
		}
	}
	for _, req := range up.Requests() {
		body := string(req.Body)
		if strings.Contains(body, "alpha") && strings.Contains(body, "bravo") {
			t.Errorf("one upstream request carries both visitors: %s", body)
		}
	}
}

// A tab that connects while an answer streams gets the text so far, then
// the rest, and ends with the stored answer.
func TestReconnectMidStreamGetsTheRest(t *testing.T) {
	text := strings.Repeat("word ", 60)
	up := openaitest.New(t, openaitest.Options{Text: text, ChunkRunes: 5, Delay: 20 * time.Millisecond})
	// The answer takes 60 chunks of 20 ms; withAI's 5 s for a whole answer
	// (tight for the hand-off tests) cut it once at load 35. Nothing here
	// is about timeouts.
	r := apptest.Start(t, func(c *config.Config) {
		withAI(up)(c)
		c.AIFirstToken, c.AIChunkGap, c.AIAnswerTimeout = time.Minute, time.Minute, time.Minute
	})
	a := dial(t, r, client.Options{})
	a.send("write me something long")
	// Wait until the answer is under way, then a second tab arrives.
	deadline := time.Now().Add(time.Minute)
	for len(a.deltas("")) < 5 {
		if time.Now().After(deadline) {
			t.Fatal("no deltas")
		}
		time.Sleep(5 * time.Millisecond)
	}
	tok, conv, _ := a.c.State()
	b := dial(t, r, client.Options{Token: tok, ConversationID: conv})
	final := b.waitMessage(fromBot("ai"))
	ds := b.deltas(final.StreamID)
	if len(ds) == 0 || ds[0].Index != 0 || ds[0].Text == "" {
		t.Fatalf("late tab's first delta %+v, want the snapshot (index 0)", ds)
	}
	// Replaying the deltas as a client would (index 0 replaces) gives the
	// final text.
	var sb strings.Builder
	for _, d := range ds {
		if d.Index == 0 {
			sb.Reset()
		}
		sb.WriteString(d.Text)
	}
	if sb.String() != final.Text || final.Text != text {
		t.Errorf("late tab rebuilt %q, final %q", sb.String(), final.Text)
	}
}

func TestAnswerAbandonedWhenNobodyListens(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{Scenario: openaitest.Stall})
	r := apptest.Start(t, func(c *config.Config) {
		withAI(up)(c)
		c.AIFirstToken, c.AIChunkGap, c.AIAnswerTimeout = time.Minute, time.Minute, time.Minute
	})
	v := dial(t, r, client.Options{})
	v.send("tell me about your company, in detail")
	_, conv, _ := v.c.State()
	deadline := time.Now().Add(5 * time.Second)
	for up.Active() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("upstream never called")
		}
		time.Sleep(10 * time.Millisecond)
	}
	v.c.Close()
	// AbandonAfter is 10 s by default: the upstream request is cancelled
	// then, long before the 1-minute timeouts.
	deadline = time.Now().Add(20 * time.Second)
	for up.Active() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("upstream request not cancelled")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The partial answer is stored just after the upstream request ends.
	var msgs []store.Message
	deadline = time.Now().Add(20 * time.Second)
	for {
		msgs, _ = r.Store.Messages(conv, 0, 0)
		if last := msgs[len(msgs)-1]; last.From == protocol.FromBot && last.Incomplete {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("last message %+v, want the partial answer marked incomplete", msgs[len(msgs)-1])
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, m := range msgs {
		if m.From == protocol.FromSystem {
			t.Errorf("abandoned answer handed off: %+v", m)
		}
	}
}

func TestAnswerCacheSharedOnlyWithoutContext(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{Text: "We are open to everyone."})
	r := apptest.Start(t, withAI(up))
	for i := range 3 {
		v := dial(t, r, client.Options{Fingerprint: fmt.Sprintf("%064x", i+1)})
		v.send("Who can buy from you?")
		v.waitMessage(fromBot("ai"))
	}
	if up.Count() != 1 {
		t.Errorf("3 visitors asking the same first question: %d upstream calls, want 1 (cache)", up.Count())
	}
	// A question after earlier turns depends on the conversation: not
	// served from another visitor's cache.
	v := dial(t, r, client.Options{Fingerprint: fmt.Sprintf("%064x", 9)})
	v.send("hello")
	v.waitMessage(fromBot("ai"))
	before := up.Count()
	v.send("Who can buy from you?")
	v.waitMessage(func(m protocol.Message) bool { return m.From == protocol.FromBot && m.Seq > 2 })
	if up.Count() != before+1 {
		t.Errorf("contextual question served from the shared cache")
	}
}

func TestBudgetSpentHandsOffWithClearMessage(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{})
	r := apptest.Start(t, func(c *config.Config) {
		withAI(up)(c)
		c.AIDailyTokens = 10 // less than any prompt
	})
	v := dial(t, r, client.Options{})
	v.send("tell me about your company history")
	m := v.waitMessage(isSystem)
	if !strings.Contains(m.Text, "today") {
		t.Errorf("budget message %q", m.Text)
	}
	if up.Count() != 0 {
		t.Errorf("upstream called %d times with the budget spent", up.Count())
	}
}

// waitDone waits for the delta that closes a stream (it follows the stored
// message).
func waitDone(t *testing.T, v *visitor, streamID string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		for _, d := range v.deltas(streamID) {
			if d.Done {
				return
			}
		}
		select {
		case <-v.ch:
		case <-deadline:
			t.Fatal("stream never closed with done")
		}
	}
}

func waitFrame(t *testing.T, v *visitor, typ string) map[string]any {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		for _, e := range v.events() {
			if e.typ == typ {
				var m map[string]any
				json.Unmarshal(e.raw, &m)
				return m
			}
		}
		select {
		case <-v.ch:
		case <-deadline:
			t.Fatalf("no %s frame", typ)
		}
	}
}
