package boltdb

import (
	"context"
	"fmt"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
)

// messageEvents reads every event and returns, for each message.created
// one, its message's text, keyed "conv/seq".
func messageEvents(t *testing.T, s *Store) map[string]string {
	t.Helper()
	evs, _, err := s.Events(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, ev := range evs {
		if ev.Type != store.EventMessageCreated {
			continue
		}
		if ev.Message == nil || ev.Message.ConversationID != ev.ConversationID {
			t.Fatalf("event %s without its message: %+v", ev.ID, ev.Message)
		}
		out[fmt.Sprintf("%s/%d", ev.ConversationID, ev.Message.Seq)] = ev.Message.Text
	}
	return out
}

// A message.created event finds its message where the event says it was
// put in the log, then where the move put it; an erased message's event
// is skipped; an event stored without a position (before it was recorded)
// still finds its message by searching.
func TestEventMessagesFollowTheLog(t *testing.T) {
	s, _ := openTest(t, Options{})
	v, gone := newVisitor(t, s)
	_, stay := newVisitor(t, s)
	want := map[string]string{}
	appendTo := func(conv string, text string) {
		a, err := s.Append(context.Background(), conv, store.NewMessage{ClientID: text, From: "visitor", Text: text})
		if err != nil {
			t.Fatal(err)
		}
		want[fmt.Sprintf("%s/%d", conv, a.Messages[0].Seq)] = text
	}
	check := func(when string) {
		t.Helper()
		got := messageEvents(t, s)
		if len(got) != len(want) {
			t.Fatalf("%s: %d message events, want %d: %v", when, len(got), len(want), got)
		}
		for k, text := range want {
			if got[k] != text {
				t.Fatalf("%s: event %s reads %q, want %q", when, k, got[k], text)
			}
		}
	}
	for i := range 3 {
		appendTo(stay.ID, fmt.Sprint("stay ", i))
		appendTo(gone.ID, fmt.Sprint("gone ", i))
	}
	// Recorded positions: every message event names one.
	if err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEvents).ForEach(func(k, v []byte) error {
			var r eventRecord
			if err := decode(v, &r); err != nil {
				return err
			}
			if r.Type == store.EventMessageCreated && r.Log == 0 {
				return fmt.Errorf("event %x: no log position", k)
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	check("in the log")
	moveLog(t, s)
	if n := logLen(t, s); n != 0 {
		t.Fatalf("log holds %d entries after a move of all", n)
	}
	check("moved")
	appendTo(stay.ID, "stay 3") // one in the log, the rest moved
	check("both")

	if _, err := s.DeleteConversations(context.Background(), []string{gone.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteVisitors(context.Background(), []string{v.ID}); err != nil {
		t.Fatal(err)
	}
	for k := range want {
		if k[:len(gone.ID)] == gone.ID {
			delete(want, k)
		}
	}
	check("erased")

	// An event as stored before positions were recorded.
	m := store.Message{ConversationID: stay.ID, Seq: 5, From: "visitor", Text: "stay 4"}
	if err := s.update(context.Background(), func(tx *bolt.Tx) error {
		if _, err := s.putLog(tx, m); err != nil {
			return err
		}
		c, err := s.conv(tx, stay.ID)
		if err != nil {
			return err
		}
		c.LastSeq = 5
		s.putConv(c)
		return s.addEvent(tx, store.MessageEvent(m))
	}, nil); err != nil {
		t.Fatal(err)
	}
	want[stay.ID+"/5"] = "stay 4"
	check("an event without a position")
}
