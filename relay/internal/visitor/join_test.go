package visitor

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/metrics"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

// countingStore counts the history reads a hello makes.
type countingStore struct {
	*boltdb.Store
	reads atomic.Int64
}

func (c *countingStore) Messages(convID string, after uint64, limit int) ([]store.Message, error) {
	c.reads.Add(1)
	return c.Store.Messages(convID, after, limit)
}

// A new visitor's conversation is empty: its hello reads no history. A
// returning visitor's does, and gets what it missed.
func TestNewVisitorJoinReadsNoHistory(t *testing.T) {
	st, err := boltdb.Open(t.TempDir(), boltdb.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cs := &countingStore{Store: st}
	h := hub.New()
	mux := http.NewServeMux()
	mux.Handle("GET /v1/ws", New(defaultOptions(), cs, h, slog.New(slog.DiscardHandler), metrics.New(), Hooks{}).Socket())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	rl := &relay{t: t, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/ws"}

	first := rl.raw(nil)
	w := first.hello()
	if got := cs.reads.Load(); got != 0 {
		t.Fatalf("a new visitor's hello read the history %d times, want 0", got)
	}
	first.send(`{"type":"message","id":"m1","text":"hello"}`)
	first.next("ack")

	again := rl.raw(nil)
	again.send(`{"type":"hello","token":"` + w["token"].(string) + `","conversation_id":"` + w["conversation_id"].(string) + `","last_seq":0}`)
	again.next("welcome")
	if m := again.next("message"); m["text"] != "hello" {
		t.Fatalf("returning visitor's replay: got %v, want the message hello", m)
	}
	if got := cs.reads.Load(); got == 0 {
		t.Fatal("a returning visitor's hello read no history")
	}
}

// A session that sends no identify frame holds no identify state; one
// that does gets its traits stored.
func TestIdleSessionHoldsNoIdentifyState(t *testing.T) {
	st, err := boltdb.Open(t.TempDir(), boltdb.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	held := make(chan bool, 1)
	joined := func(_ hub.Subscriber, s *Session) { held <- s.traits != nil } // the session's goroutine
	mux := http.NewServeMux()
	mux.Handle("GET /v1/ws", New(defaultOptions(), st, hub.New(), slog.New(slog.DiscardHandler), metrics.New(), Hooks{Joined: joined}).Socket())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	rl := &relay{t: t, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/ws"}

	c := rl.raw(nil)
	w := c.hello()
	if <-held {
		t.Fatal("a session that sent no identify frame holds identify state")
	}
	c.send(`{"type":"identify","traits":{"name":"Ada"}}`)
	c.send(`{"type":"message","id":"m1","text":"hi"}`) // stores pending traits first
	c.next("ack")
	v, err := st.VisitorByToken(hashToken(w["token"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	if v.Traits["name"] != "Ada" {
		t.Fatalf("traits after identify: %v, want name Ada", v.Traits)
	}
}
