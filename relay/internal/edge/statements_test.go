//go:build !js

package edge

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/store/d1"
	"github.com/kefuhq/kefu/relay/internal/store/d1/d1test"
)

// Each D1 statement is a round trip, and under wrangler dev CPU of the
// Worker's own (docs/edge.md, CPU per request): the D1 statements each
// request kind runs are counted here, on the edge over the D1 store over
// SQLite with the migrations wrangler applies. A kept instance reads the
// settings version before each of these but a health check (reuse.go),
// one more.
func TestStatementsPerRequest(t *testing.T) {
	db := d1test.OpenSQLite(t, "../store/d1/migrations")
	fake := openaitest.New(t, openaitest.Options{Text: "An answer."})
	env := map[string]string{"OPENAI_BASE_URL": fake.BaseURL, "OPENAI_API_KEY": "sk-test"}
	cfg, err := config.Parse(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingDB{db: db}
	fan := NewFanout()
	st := d1.New(counted, d1.Options{OnAppend: fan.OnAppend, SettingsOnFirstRead: true})
	e, err := New(context.Background(), Options{Config: cfg, Fanout: fan, Store: st, DefaultModel: defaultModel(t), Log: slog.New(slog.NewTextHandler(tlog{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Close(ctx)
	})
	h := &harness{edge: e, srv: srv}
	var w welcome
	for _, step := range []struct {
		kind string
		max  int
		do   func()
	}{
		// The first request reads the settings and seeds the default intents.
		{"first GET /v1/widget/config", 3, func() { h.do(t, "GET", "/v1/widget/config", "", "", "") }},
		{"GET /v1/widget/config", 0, func() { h.do(t, "GET", "/v1/widget/config", "", "", "") }},
		{"POST /v1/classify", 0, func() { h.do(t, "POST", "/v1/classify", "", `{"text":"how long does shipping take?"}`, "") }},
		{"POST /v1/conversations", 2, func() { w = h.startConversation(t) }},
		// The language goes in the visitor's INSERT.
		{"POST /v1/conversations in German", 2, func() { h.do(t, "POST", "/v1/conversations", "", `{"lang":"de"}`, "") }},
		// The visitor by token, the question, the answer: no read-backs,
		// no second visitor read for the language.
		{"FAQ message", 3, func() { h.send(t, w, "q1", "how long does shipping take?") }},
		{"FAQ message again", 3, func() { h.send(t, w, "q2", "how long does shipping take?") }},
		// A resend finds the stored message and reads the conversation.
		{"resent FAQ message", 4, func() { h.send(t, w, "q2", "how long does shipping take?") }},
		// The visitor, the question, the conversation and its history for
		// the model, the day's token use, the answer.
		{"AI message", 6, func() { h.send(t, w, "q3", "tell me something about your oldest product") }},
		// The visitor, then the page and the newest seq in one statement.
		{"GET messages", 2, func() {
			page := decode[struct {
				Messages []struct{ Seq uint64 }
				Seq      uint64
			}](t, h.do(t, "GET", "/v1/conversations/"+w.ConversationID+"/messages?after=1", w.Token, "", ""))
			// Two FAQ questions and their answers, an AI question and its answer.
			if len(page.Messages) != 5 || page.Messages[0].Seq != 2 || page.Seq != 6 {
				t.Errorf("history after 1: %+v, want seqs 2 to 6 and seq 6", page)
			}
		}},
	} {
		counted.take()
		step.do()
		ran := counted.take()
		if len(ran) > step.max {
			t.Errorf("%s: %d statements, want at most %d:\n  %s", step.kind, len(ran), step.max, strings.Join(ran, "\n  "))
		}
	}
}

// countingDB is the D1 store's DB that keeps what it ran, one line each.
type countingDB struct {
	db  d1.DB
	mu  sync.Mutex
	ran []string
}

func (c *countingDB) note(q string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ran = append(c.ran, strings.Join(strings.Fields(q), " "))
}

// take returns what ran since the last take.
func (c *countingDB) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ran := c.ran
	c.ran = nil
	return ran
}

func (c *countingDB) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	c.note(q)
	return c.db.Exec(ctx, q, args...)
}

func (c *countingDB) Query(ctx context.Context, q string, args ...any) ([][]any, error) {
	c.note(q)
	return c.db.Query(ctx, q, args...)
}
