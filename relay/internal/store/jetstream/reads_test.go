package jetstream

import (
	"context"
	"fmt"
	"testing"

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
