package jetstream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream/natstest"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
)

// Long reads go through one consumer on whichever replica JetStream puts
// it, short ones by gets from the leader: both return exactly the
// conversation's messages after the position asked, up to the limit, in
// seq order, as a reader that only gets would — read on another server
// than the writer's, with another conversation's messages in between.
func TestLongReadsByConsumer(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-server cluster: not in -short")
	}
	c := natstest.RunCluster(t, 3, natstest.Options{})
	w := openOn(t, c, 0, "long", nil)
	_, conv := storetest.NewVisitor(t, w)
	_, other := storetest.NewVisitor(t, w)
	ctx := context.Background()
	const total = 300
	for i := 0; i < total; i += 10 {
		var batch []store.NewMessage
		for j := range 10 {
			batch = append(batch, store.NewMessage{ClientID: fmt.Sprint("m", i+j), From: "visitor", Text: fmt.Sprint("message ", i+j)})
		}
		if _, err := w.Append(ctx, conv.ID, batch...); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Append(ctx, other.ID, store.NewMessage{From: "visitor", Text: "elsewhere"}); err != nil {
			t.Fatal(err)
		}
	}
	r := openOn(t, c, 2, "long", nil)
	// Every long read here must go through its consumer; on a box at load
	// 25 one run handed a read over to gets (the idle time, most likely),
	// which is right but not what this test counts.
	r.consumerIdle = time.Minute
	gets := openOn(t, c, 1, "long", nil)
	gets.consumerReadMin = 0
	for _, tc := range []struct{ after, limit uint64 }{
		{0, 0}, {0, 10}, {5, 0}, {63, 0}, {64, 64}, {100, 150}, {236, 0}, {237, 0}, {299, 0}, {300, 0},
	} {
		got, err := r.Messages(conv.ID, tc.after, int(tc.limit))
		if err != nil {
			t.Fatalf("Messages(after %d, limit %d): %v", tc.after, tc.limit, err)
		}
		want := total - tc.after
		if tc.limit > 0 {
			want = min(want, tc.limit)
		}
		if uint64(len(got)) != want {
			t.Fatalf("Messages(after %d, limit %d) = %d messages, want %d", tc.after, tc.limit, len(got), want)
		}
		for i, m := range got {
			if m.Seq != tc.after+1+uint64(i) || m.ConversationID != conv.ID || m.Text != fmt.Sprint("message ", m.Seq-1) {
				t.Fatalf("Messages(after %d, limit %d)[%d] = seq %d %q of %s", tc.after, tc.limit, i, m.Seq, m.Text, m.ConversationID)
			}
		}
		byGets, err := gets.Messages(conv.ID, tc.after, int(tc.limit))
		if err != nil || len(byGets) != len(got) {
			t.Fatalf("by gets: %d messages, %v; by the reader: %d", len(byGets), err, len(got))
		}
		for i := range got {
			if got[i] != byGets[i] {
				t.Fatalf("message %d: %+v by the reader, %+v by gets", i, got[i], byGets[i])
			}
		}
	}
	if n := r.consumerReads.Load(); n != 6 {
		t.Errorf("%d reads went through a consumer, want the 6 of at least %d messages", n, consumerReadMin)
	}
	if n := gets.consumerReads.Load(); n != 0 {
		t.Errorf("the gets-only reader used a consumer %d times", n)
	}
}

// A consumer that stops delivering before the seq asked for (a replica
// far behind, here a range past the conversation's end) gives up after
// its idle time and says how far it got, so gets can go on from there.
func TestLongReadHandsOverToGets(t *testing.T) {
	c := natstest.Run(t, natstest.Options{})
	s := openOn(t, c, 0, "handover", nil)
	s.consumerIdle = 300 * time.Millisecond
	_, conv := storetest.NewVisitor(t, s)
	var batch []store.NewMessage
	for i := range 70 {
		batch = append(batch, store.NewMessage{From: "visitor", Text: fmt.Sprint(i)})
	}
	if _, err := s.Append(context.Background(), conv.ID, batch...); err != nil {
		t.Fatal(err)
	}
	r, _, err := s.getRecord(context.Background(), conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var seen []uint64
	got, next, err := s.readByConsumer(ctx, s.convSubject(conv.ID), 1, 10, 80, func(m store.Message) { seen = append(seen, m.Seq) })
	if err == nil {
		t.Fatal("a read past the end returned no error")
	}
	if got != 70 || next != r.StreamSeq+1 || len(seen) != 60 || seen[0] != 11 {
		t.Errorf("stopped at seq %d, next stream seq %d (want 70, %d), delivered %d from %v", got, next, r.StreamSeq+1, len(seen), seen[:1])
	}
	if ctx.Err() != nil {
		t.Error("the consumer held the read until its deadline")
	}
}
