package jetstream

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream/natstest"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
)

// deadAfterCAS leaves a conversation as a node that died right after the
// compare-and-set of a hand-off, before moving its event into the stream:
// the record holds the event, the marker names the conversation.
func deadAfterCAS(t *testing.T, s *Store, convID string) store.Event {
	t.Helper()
	ctx := context.Background()
	if _, err := s.markPending(ctx, convID); err != nil {
		t.Fatal(err)
	}
	r, rev, err := s.getRecord(ctx, convID)
	if err != nil {
		t.Fatal(err)
	}
	before := r.Conversation
	if err := store.HandOff(&r.Conversation); err != nil {
		t.Fatal(err)
	}
	evs := store.EventsFor(before, r.Conversation, time.Now())
	r.Pending = append(r.Pending, evs...)
	if err := s.putRecord(ctx, r, rev); err != nil {
		t.Fatal(err)
	}
	return evs[0]
}

func typesOf(t *testing.T, s *Store, convID string) string {
	t.Helper()
	evs, _, err := s.Events(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if ev.ConversationID == convID {
			out = append(out, ev.Type)
		}
	}
	return strings.Join(out, " ")
}

// A hand-off's event left in the record by a dead node reaches the log:
// FlushEvents (the notifier's sweep, on any node) moves it, once.
func TestEventsLeftByADeadNodeAreFlushed(t *testing.T) {
	c := natstest.Run(t, natstest.Options{})
	s := openOn(t, c, 0, "dead", nil)
	_, conv := storetest.NewVisitor(t, s)
	ev := deadAfterCAS(t, s, conv.ID)
	if got := typesOf(t, s, conv.ID); got != "conversation.created" {
		t.Fatalf("set-up: the log already has %q", got)
	}
	if got, _ := s.Conversation(conv.ID); got.Handler != store.HandlerQueue {
		t.Fatalf("set-up: the hand-off is not stored: %+v", got)
	}
	other := openOn(t, c, 0, "dead", nil) // another node
	n, err := other.FlushEvents(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("FlushEvents = %d, %v; want 1 conversation", n, err)
	}
	if got := typesOf(t, s, conv.ID); got != "conversation.created conversation.handed_off" {
		t.Errorf("log after the flush: %q", got)
	}
	evs, _, _ := s.Events(context.Background(), 0, 0)
	if evs[len(evs)-1].ID != ev.ID {
		t.Errorf("the flushed event has id %s, want the stored %s", evs[len(evs)-1].ID, ev.ID)
	}
	if n, err := other.FlushEvents(context.Background()); err != nil || n != 0 {
		t.Errorf("a second FlushEvents = %d, %v; want nothing left", n, err)
	}
	if got := typesOf(t, s, conv.ID); got != "conversation.created conversation.handed_off" {
		t.Errorf("log after a second flush: %q", got)
	}
}

// Without a sweep, the next append moves the event first: it keeps its
// place before the message that came after it.
func TestNextAppendMovesEventsFirst(t *testing.T) {
	c := natstest.Run(t, natstest.Options{})
	s := openOn(t, c, 0, "dead2", nil)
	_, conv := storetest.NewVisitor(t, s)
	deadAfterCAS(t, s, conv.ID)
	other := openOn(t, c, 0, "dead2", nil)
	if _, err := other.Append(context.Background(), conv.ID, store.NewMessage{From: "system", Text: "Connecting you"}); err != nil {
		t.Fatal(err)
	}
	if got := typesOf(t, s, conv.ID); got != "conversation.created conversation.handed_off message.created" {
		t.Errorf("log: %q", got)
	}
	r, _, err := s.getRecord(context.Background(), conv.ID)
	if err != nil || len(r.Pending) != 0 {
		t.Errorf("record still holds %d events (%v)", len(r.Pending), err)
	}
	// The marker stays until a sweep looks: harmless, it finds nothing.
	if n, err := s.FlushEvents(context.Background()); err != nil || n > 1 {
		t.Errorf("FlushEvents = %d, %v", n, err)
	}
	if got := typesOf(t, s, conv.ID); got != "conversation.created conversation.handed_off message.created" {
		t.Errorf("log after the sweep: %q", got)
	}
}
