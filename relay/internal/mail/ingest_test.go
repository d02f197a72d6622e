package mail

import (
	"context"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/protocol"
)

// countingStore counts the event log and conversation reads of ingest.
type countingStore struct {
	Store
	events, convs int
}

func (c *countingStore) Events(ctx context.Context, after uint64, limit int) ([]store.Event, uint64, error) {
	c.events++
	return c.Store.Events(ctx, after, limit)
}

func (c *countingStore) Conversation(id string) (store.Conversation, error) {
	c.convs++
	return c.Store.Conversation(id)
}

type nobodyOnline struct{}

func (nobodyOnline) Online() int             { return 0 }
func (nobodyOnline) AgentOnline(string) bool { return false }
func (nobodyOnline) VisitorHere(string) bool { return false }

// With mail off the event log is not read at all, and the cursor moves
// to its end; with mail on, the bot's messages read no conversation.
func TestIngestReadsOnlyWhatCanCallForMail(t *testing.T) {
	ctx := t.Context()
	st, err := boltdb.Open(t.TempDir(), boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cs := &countingStore{Store: st}
	s := &Service{st: cs, opts: Options{Presence: nobodyOnline{}, Now: time.Now}}
	_, conv, err := st.CreateVisitor(ctx, []byte("a visitor's token hash, 32 bytes"), "fp")
	if err != nil {
		t.Fatal(err)
	}
	say := func(from, text string) {
		t.Helper()
		if _, err := st.Append(ctx, conv.ID, store.NewMessage{From: from, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	atEnd := func(when string) {
		t.Helper()
		pos, _, err := s.readCursor(ctx)
		end, eerr := st.LastEventPos(ctx)
		if err != nil || eerr != nil || pos != end || end == 0 {
			t.Fatalf("%s: cursor %d, log's end %d (%v, %v)", when, pos, end, err, eerr)
		}
	}

	say(protocol.FromVisitor, "where is my order?")
	say(protocol.FromBot, "It ships today.")
	if err := s.ingest(ctx); err != nil {
		t.Fatal(err)
	}
	if cs.events != 0 {
		t.Errorf("mail off: the event log was read %d times", cs.events)
	}
	atEnd("mail off")

	s.set = Settings{Enabled: true, Host: "127.0.0.1", From: "support@shop.test"}
	say(protocol.FromBot, "Anything else?")
	say(protocol.FromBot, "Have a good day.")
	if err := s.ingest(ctx); err != nil {
		t.Fatal(err)
	}
	if cs.events == 0 {
		t.Error("mail on: the event log was not read")
	}
	if cs.convs != 0 {
		t.Errorf("mail on: the bot's messages read the conversation %d times", cs.convs)
	}
	atEnd("mail on")
	say(protocol.FromVisitor, "no, thanks")
	if err := s.ingest(ctx); err != nil {
		t.Fatal(err)
	}
	if cs.convs != 1 {
		t.Errorf("mail on: a visitor's message read the conversation %d times, want 1", cs.convs)
	}
	atEnd("a visitor's message")
}
