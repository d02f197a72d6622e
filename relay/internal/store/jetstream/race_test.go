package jetstream

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream/natstest"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Several nodes append to one conversation at once, each through its own
// connection to a different server of a three-server cluster, and resend
// what they sent as a lost-ack client would: every append that returned is
// stored exactly once, at the seq it was acked with, and seqs run 1..n.
func TestConcurrentNodesKeepSeqsContiguous(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-server cluster: not in -short")
	}
	c := natstest.RunCluster(t, 3, natstest.Options{})
	first := openOn(t, c, 0, "race", nil)
	_, conv := storetest.NewVisitor(t, first)
	const nodes, each = 6, 40
	stores := []*Store{first}
	for i := 1; i < nodes; i++ {
		stores = append(stores, openOn(t, c, i%3, "race", nil))
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked = map[string]uint64{}
	)
	ctx := context.Background()
	for n, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("n%d-%d", n, i)
				msgs := []store.NewMessage{{ClientID: id, From: "visitor", Text: id}}
				if i%5 == 0 {
					// A question and its answer, appended together.
					msgs = append(msgs, store.NewMessage{ClientID: id + "#answer", From: "bot", Text: "answer"})
				}
				for try := 0; try < 2; try++ { // the second is a resend
					a, err := s.Append(ctx, conv.ID, msgs...)
					if err != nil {
						t.Errorf("node %d append %s: %v", n, id, err)
						return
					}
					mu.Lock()
					for k, m := range a.Messages {
						if prev, ok := acked[m.ClientID]; ok && prev != m.Seq {
							t.Errorf("%s acked as %d and %d", m.ClientID, prev, m.Seq)
						}
						acked[m.ClientID] = m.Seq
						if try == 1 && !a.Duplicate[k] {
							t.Errorf("resend of %s stored again", m.ClientID)
						}
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	msgs, err := stores[nodes-1].Messages(conv.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != len(acked) {
		t.Errorf("stored %d messages, acked %d distinct ones", len(msgs), len(acked))
	}
	for i, m := range msgs {
		if m.Seq != uint64(i+1) {
			t.Fatalf("message %d has seq %d", i, m.Seq)
		}
		if acked[m.ClientID] != m.Seq {
			t.Errorf("seq %d holds %s, acked as %d", m.Seq, m.ClientID, acked[m.ClientID])
		}
	}
	got, err := first.Conversation(conv.ID)
	if err != nil || got.LastSeq != uint64(len(msgs)) {
		t.Errorf("conversation LastSeq = %d, %v; want %d", got.LastSeq, err, len(msgs))
	}
}

// A node that died after JetStream stored its message but before it
// updated the conversation record leaves the record behind the stream.
// The next append, on any node, repairs it: the message keeps its seq,
// the next one follows it, and its client id is known.
func TestAppendRepairsARecordBehindTheStream(t *testing.T) {
	c := natstest.Run(t, natstest.Options{})
	s := openOn(t, c, 0, "repair", nil)
	_, conv := storetest.NewVisitor(t, s)
	ctx := context.Background()
	if _, err := s.Append(ctx, conv.ID, store.NewMessage{ClientID: "a", From: "visitor", Text: "one"}); err != nil {
		t.Fatal(err)
	}
	// What the dead node got as far as: seq 2 published on top of seq 1.
	r, _, err := s.getRecord(ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	orphan := store.NewMessage{ClientID: "b", From: "visitor", Text: "two"}.Stored(conv.ID, 2, time.Now())
	data, _ := json.Marshal(orphan)
	js, _ := jetstream.New(c.Connect(0))
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: s.convSubject(conv.ID), Data: data}, jetstream.WithExpectLastSequencePerSubject(r.StreamSeq)); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := s.getRecord(ctx, conv.ID); r.LastSeq != 1 {
		t.Fatalf("set-up: record at %d, want 1 (behind the stream)", r.LastSeq)
	}
	// Reads see the stored message already, as every node's Follow does.
	if got, _ := s.Conversation(conv.ID); got.LastSeq != 2 || got.Preview != "two" {
		t.Errorf("conversation read with its record behind = %+v, want up to seq 2", got)
	}
	if msgs, err := s.Messages(conv.ID, 1, 0); err != nil || len(msgs) != 1 || msgs[0].ClientID != "b" {
		t.Errorf("messages after seq 1 with the record behind = %v, %v; want the stored seq 2", msgs, err)
	}

	other := openOn(t, c, 0, "repair", nil) // another node
	resend, err := other.Append(ctx, conv.ID, store.NewMessage{ClientID: "b", From: "visitor", Text: "two"})
	if err != nil {
		t.Fatal(err)
	}
	if !resend.Duplicate[0] || resend.Messages[0].Seq != 2 || resend.Conversation.LastSeq != 2 {
		t.Errorf("resend of the orphan = seq %d dup %v last %d; want the stored seq 2, duplicate, last 2",
			resend.Messages[0].Seq, resend.Duplicate[0], resend.Conversation.LastSeq)
	}
	next, err := s.Append(ctx, conv.ID, store.NewMessage{ClientID: "c", From: "visitor", Text: "three"})
	if err != nil || next.Messages[0].Seq != 3 {
		t.Fatalf("next append = %+v, %v; want seq 3", next.Messages, err)
	}
	msgs, err := s.Messages(conv.ID, 0, 0)
	if err != nil || len(msgs) != 3 || msgs[1].ClientID != "b" {
		t.Errorf("messages after the repair = %v, %v", msgs, err)
	}
	if got, _ := s.Conversation(conv.ID); got.LastSeq != 3 || got.Preview != "three" {
		t.Errorf("repaired record = %+v", got)
	}
}

// Follow on one node delivers what other nodes store, in order, from a
// stream sequence on (as a restarted node resumes).
func TestFollowSeesEveryNodesMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-server cluster: not in -short")
	}
	c := natstest.RunCluster(t, 3, natstest.Options{})
	a := openOn(t, c, 0, "follow", nil)
	b := openOn(t, c, 2, "follow", nil)
	_, conv := storetest.NewVisitor(t, a)
	_, other := storetest.NewVisitor(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := a.Append(ctx, conv.ID, store.NewMessage{From: "visitor", Text: "before"}); err != nil {
		t.Fatal(err)
	}
	r, _, err := a.getRecord(ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan store.Message, 100)
	done := make(chan error, 1)
	go func() { done <- b.Follow(ctx, r.StreamSeq, func(m store.Message, _ uint64) { got <- m }) }()
	for i := range 10 {
		if _, err := a.Append(ctx, conv.ID, store.NewMessage{From: "visitor", Text: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Append(ctx, other.ID, store.NewMessage{From: "visitor", Text: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	next := map[string]uint64{conv.ID: 2, other.ID: 1}
	deadline := time.After(30 * time.Second)
	for n := 0; n < 20; n++ {
		select {
		case m := <-got:
			if m.Seq != next[m.ConversationID] {
				t.Fatalf("followed %s/%d, want seq %d", m.ConversationID, m.Seq, next[m.ConversationID])
			}
			next[m.ConversationID]++
		case <-deadline:
			t.Fatalf("followed %d of 20 messages within 30s", n)
		}
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Follow returned %v, want context.Canceled", err)
	}
}
