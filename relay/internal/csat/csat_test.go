package csat

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/origin"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/visitor"
)

type recorder struct {
	mu sync.Mutex
	ev []Event
}

func (r *recorder) Rated(_ context.Context, e Event) {
	r.mu.Lock()
	r.ev = append(r.ev, e)
	r.mu.Unlock()
}

func TestRating(t *testing.T) {
	st, err := boltdb.Open(t.TempDir(), boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	v, c, err := st.CreateVisitor(ctx, visitor.TokenHash("tok-ann"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateVisitor(ctx, visitor.TokenHash("tok-bob"), ""); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	h := New(st, origin.NewPolicy([]string{"shop.example.com"}), rec, nil)
	mux := http.NewServeMux()
	h.Routes(mux, func(h http.Handler) http.Handler { return h })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(token, conv, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/v1/conversations/"+conv+"/rating", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Origin", "https://shop.example.com")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return resp.StatusCode, b.String()
	}
	if code, body := post("tok-ann", c.ID, `{"id":"r1","score":5}`); code != 409 || !strings.Contains(body, "conflict") {
		t.Errorf("rating an open conversation: %d %s", code, body)
	}
	if _, err := st.UpdateConversation(ctx, c.ID, func(c *store.Conversation) error { return store.Assign(c, "agent-mei", "") }); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateConversation(ctx, c.ID, store.Close); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token, body string
		want              int
	}{
		{"score 0", "tok-ann", `{"id":"r1","score":0}`, 400},
		{"score 6", "tok-ann", `{"id":"r1","score":6}`, 400},
		{"a long comment", "tok-ann", `{"id":"r1","score":3,"comment":"` + strings.Repeat("x", MaxComment+1) + `"}`, 400},
		{"no id", "tok-ann", `{"score":3}`, 400},
		{"an unknown field", "tok-ann", `{"id":"r1","score":3,"stars":3}`, 400},
		{"another visitor", "tok-bob", `{"id":"r1","score":1}`, 404},
		{"no token", "", `{"id":"r1","score":1}`, 401},
	} {
		if code, body := post(tc.token, c.ID, tc.body); code != tc.want {
			t.Errorf("%s: %d %s; want %d", tc.name, code, body, tc.want)
		}
	}
	code, body := post("tok-ann", c.ID, `{"id":"r1","score":4}`)
	var ack struct {
		Seq       uint64
		Duplicate bool
	}
	json.Unmarshal([]byte(body), &ack)
	if code != 200 || ack.Seq != 1 || ack.Duplicate {
		t.Fatalf("rating: %d %s", code, body)
	}
	if code, body := post("tok-ann", c.ID, `{"id":"r1","score":4}`); code != 200 || !strings.Contains(body, `"duplicate":true`) {
		t.Errorf("the same rating again: %d %s", code, body)
	}
	if code, body := post("tok-ann", c.ID, `{"id":"r2","score":4,"comment":"  quick and kind  "}`); code != 200 {
		t.Errorf("a comment after the score: %d %s", code, body)
	}
	conv, _ := st.Conversation(c.ID)
	if conv.Status != store.StatusClosed {
		t.Errorf("a rating reopened the conversation: %+v", conv)
	}
	msgs, _ := st.Messages(c.ID, 0, 0)
	if len(msgs) != 2 || msgs[1].From != "rating" || msgs[1].Rating.Comment != "quick and kind" || msgs[1].Rating.AgentID != "agent-mei" {
		t.Errorf("stored: %+v", msgs)
	}
	if len(rec.ev) != 2 || rec.ev[0].Score != 4 || rec.ev[0].AgentID != "agent-mei" || rec.ev[0].VisitorID != v.ID || rec.ev[1].Comment != "quick and kind" {
		t.Errorf("events = %+v; want the two ratings once each", rec.ev)
	}
}

func TestCollect(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	rating := func(min, score int, comment string) store.Message {
		return store.Message{From: "rating", Time: at(min), Rating: &store.Rating{Score: score, Comment: comment, AgentID: "a1"}}
	}
	msgs := []store.Message{
		{From: "visitor", Text: "help", Time: at(0)},
		{From: "agent", Text: "done", Time: at(1)},
		rating(2, 2, ""),
		rating(3, 4, "changed my mind"), // replaces the 2: the same closing
		{From: "agent", Text: "anything else?", Time: at(4)},
		{From: "visitor", Text: "one more thing", Time: at(5)}, // reopens
		rating(6, 5, ""),
	}
	got := Collect(msgs, at(0), at(60))
	if len(got) != 2 || got[0].Score != 4 || got[0].Comment != "changed my mind" || got[1].Score != 5 {
		t.Errorf("Collect = %+v; want the 4 and the 5", got)
	}
	if got := Collect(msgs, at(4), at(60)); len(got) != 1 || got[0].Score != 5 {
		t.Errorf("Collect from minute 4 = %+v; want the 5", got)
	}
	if got := Collect(msgs[:2], at(0), at(60)); len(got) != 0 {
		t.Errorf("Collect without ratings = %+v", got)
	}
}

// TestLogEvents: a rating reaches the store's event log as
// conversation.rated, with the score, the comment and the agent; one for
// a conversation that is gone is logged and dropped, never a panic.
func TestLogEvents(t *testing.T) {
	st, err := boltdb.Open(t.TempDir(), boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	_, c, err := st.CreateVisitor(ctx, visitor.TokenHash("tok-ann"), "")
	if err != nil {
		t.Fatal(err)
	}
	_, after, err := st.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	ev := LogEvents{Store: st, Log: slog.New(slog.NewTextHandler(&logged, nil))}
	ev.Rated(ctx, Event{ConversationID: c.ID, VisitorID: "v1", AgentID: "agent-mei", Score: 2, Comment: "slow", Seq: 3})
	ev.Rated(ctx, Event{ConversationID: "nosuchconversat", Score: 5})
	evs, _, err := st.Events(ctx, after, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != store.EventRated || evs[0].ConversationID != c.ID {
		t.Fatalf("events = %+v; want one conversation.rated", evs)
	}
	var data struct {
		Score   int    `json:"score"`
		Comment string `json:"comment"`
		AgentID string `json:"agent_id"`
		Seq     uint64 `json:"seq"`
	}
	if err := json.Unmarshal(evs[0].Data, &data); err != nil || data.Score != 2 || data.Comment != "slow" || data.AgentID != "agent-mei" || data.Seq != 3 {
		t.Errorf("data = %s (%v)", evs[0].Data, err)
	}
	if !strings.Contains(logged.String(), "nosuchconversat") {
		t.Errorf("the failed emit was not logged: %q", logged.String())
	}
}
