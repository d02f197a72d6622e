package clustertest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/testkit"
	"github.com/kefuhq/kefu/relay/protocol"
)

// sender is one visitor sending numbered messages one after another
// through the load balancer, resending each until it is acked (across
// node losses), and recording what it was told and what it received.
type sender struct {
	id    int
	c     *client.Client
	conv  string
	mu    sync.Mutex
	acked map[string]uint64 // client id → seq the ack carried
	sent  int
	seen  []uint64 // seqs delivered to the client, in order
}

// traffic is several senders running at once.
type traffic struct {
	t       *testing.T
	senders []*sender
	acks    atomic.Int64
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

func startTraffic(t *testing.T, ws string, n int) *traffic {
	t.Helper()
	tr := &traffic{t: t}
	ctx, cancel := context.WithCancel(context.Background())
	tr.stop = cancel
	for i := range n {
		s := &sender{id: i, acked: map[string]uint64{}}
		dctx, dcancel := ctxFor(30 * time.Second)
		c, err := client.Dial(dctx, client.Options{URL: ws, MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
			OnMessage: func(m protocol.Message) { s.mu.Lock(); s.seen = append(s.seen, m.Seq); s.mu.Unlock() }})
		dcancel()
		if err != nil {
			t.Fatalf("sender %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		s.c = c
		_, s.conv, _ = c.State()
		tr.senders = append(tr.senders, s)
	}
	for _, s := range tr.senders {
		tr.wg.Add(1)
		go func() { defer tr.wg.Done(); tr.send(ctx, s) }()
	}
	return tr
}

func (tr *traffic) send(ctx context.Context, s *sender) {
	for i := 0; ctx.Err() == nil; i++ {
		id := fmt.Sprintf("s%d-%05d", s.id, i)
		s.mu.Lock()
		s.sent = i + 1
		s.mu.Unlock()
		// Never give up on a message once started: the cluster may lose
		// nodes any number of times meanwhile.
		sctx, cancel := ctxFor(2 * time.Minute)
		ack, err := s.c.SendID(sctx, id, "message "+id)
		cancel()
		if err != nil {
			tr.t.Errorf("sender %d: %s not acked: %v", s.id, id, err)
			return
		}
		s.mu.Lock()
		if prev, ok := s.acked[id]; ok && prev != ack.Seq {
			tr.t.Errorf("%s acked twice, with seqs %d and %d", id, prev, ack.Seq)
		}
		s.acked[id] = ack.Seq
		s.mu.Unlock()
		tr.acks.Add(1)
		// A steady pace, not a flood: the test is about what survives
		// node losses, and reading everything back afterwards costs a
		// request per message.
		select {
		case <-ctx.Done():
		case <-time.After(pace):
		}
	}
}

// pace is the pause between one sender's messages: four senders make about
// 150 messages a second on an idle box.
const pace = 20 * time.Millisecond

// progress waits until at least more acks arrive than there were at the
// start of the call: the cluster still takes writes.
func (tr *traffic) progress(what string, more int64, within time.Duration) {
	tr.t.Helper()
	from := tr.acks.Load()
	testkit.Eventually(tr.t, what, within, func() bool { return tr.acks.Load() >= from+more })
}

// finish stops the senders (each finishes the message in flight) and
// checks, reading every conversation again from scratch through read:
// every acked message is stored exactly once with the seq its ack
// carried, seqs are contiguous, every message sent was stored (senders
// never give up), and each sender's client received every message once,
// in order, whatever nodes it was moved between.
func (tr *traffic) finish(read string) (total int) {
	t := tr.t
	t.Helper()
	tr.stop()
	tr.wg.Wait()
	for _, s := range tr.senders {
		tok, conv, _ := s.c.State()
		var mu sync.Mutex
		var msgs []protocol.Message
		var want atomic.Uint64
		ctx, cancel := ctxFor(time.Minute)
		r, err := client.Dial(ctx, client.Options{URL: read, Token: tok, ConversationID: conv,
			OnWelcome: func(w protocol.Welcome) { want.Store(w.Seq) },
			OnMessage: func(m protocol.Message) { mu.Lock(); msgs = append(msgs, m); mu.Unlock() }})
		cancel()
		if err != nil {
			t.Fatalf("reader of sender %d: %v", s.id, err)
		}
		testkit.Eventually(t, fmt.Sprintf("sender %d's conversation read back", s.id), time.Minute, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(msgs) > 0 && msgs[len(msgs)-1].Seq == want.Load()
		})
		r.Close()
		seen := map[string]uint64{}
		var mine []protocol.Message
		for k, m := range msgs {
			if m.Seq != uint64(k+1) {
				t.Fatalf("sender %d: message %d has seq %d: seqs not contiguous", s.id, k, m.Seq)
			}
			if m.From != protocol.FromVisitor {
				continue
			}
			mine = append(mine, m)
			if prev, dup := seen[m.ID]; dup {
				t.Errorf("sender %d: %s stored twice (seqs %d and %d)", s.id, m.ID, prev, m.Seq)
			}
			seen[m.ID] = m.Seq
		}
		s.mu.Lock()
		for id, seq := range s.acked {
			if seen[id] != seq {
				t.Errorf("sender %d: %s acked as seq %d, stored as %d", s.id, id, seq, seen[id])
			}
		}
		if len(mine) != s.sent || len(s.acked) != s.sent {
			t.Errorf("sender %d: sent %d, acked %d, stored %d", s.id, s.sent, len(s.acked), len(mine))
		}
		s.mu.Unlock()
		// The sender's own client: every seq once, in order, up to the end.
		testkit.Eventually(t, fmt.Sprintf("sender %d's client up to date", s.id), time.Minute, func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return len(s.seen) > 0 && s.seen[len(s.seen)-1] == want.Load()
		})
		s.mu.Lock()
		for k, seq := range s.seen {
			if seq != uint64(k+1) {
				t.Errorf("sender %d's client got seq %d at position %d", s.id, seq, k)
				break
			}
		}
		s.mu.Unlock()
		total += len(mine)
	}
	return total
}

// moved counts the senders whose client had to reconnect (to another
// node) at least once.
func (tr *traffic) moved() int {
	n := 0
	for _, s := range tr.senders {
		if s.c.Dials() > 1 {
			n++
		}
	}
	return n
}
