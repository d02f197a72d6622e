package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

// sender is one visitor sending numbered messages one after another,
// recording the seq each ack carried.
type sender struct {
	c     *client.Client
	conv  string
	mu    sync.Mutex
	acked map[string]uint64 // client id → seq
	sent  int
}

func (s *sender) loop(ctx context.Context, t *testing.T, prefix string) {
	for i := 0; ctx.Err() == nil; i++ {
		id := fmt.Sprintf("%s-%05d", prefix, i)
		s.mu.Lock()
		s.sent = i + 1
		s.mu.Unlock()
		// Keep resending this id until it is acked: the relay may be
		// killed and restarted any number of times meanwhile.
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		ack, err := s.c.SendID(sctx, id, "message "+id)
		cancel()
		if err != nil {
			t.Errorf("send %s: %v", id, err)
			return
		}
		s.mu.Lock()
		if prev, ok := s.acked[id]; ok && prev != ack.Seq {
			t.Errorf("%s acked twice with seqs %d and %d", id, prev, ack.Seq)
		}
		s.acked[id] = ack.Seq
		s.mu.Unlock()
	}
}

// TestCrashLosesNothing runs the real binary under concurrent senders and
// kills it with SIGKILL at random moments. After every restart each
// acknowledged message must be stored exactly once, seqs contiguous, and the
// messages the clients resent after the crash stored once. It runs with
// the default message log, and with a log the writer moves into the
// per-conversation tree every three messages, so that about every other
// transaction is a move and kills land inside moves as well as appends.
func TestCrashLosesNothing(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"default", nil},
		{"moving", []string{"--log-compact-at", "3"}},
	} {
		t.Run(c.name, func(t *testing.T) { crashLosesNothing(t, c.args) })
	}
}

func crashLosesNothing(t *testing.T, args []string) {
	const cycles = 12
	data := t.TempDir()
	addr := freePort(t)
	p := startKefu(t, addr, data, args...)

	const visitors = 6
	senders := make([]*sender, visitors)
	for i := range senders {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := client.Dial(ctx, client.Options{URL: "ws://" + addr + "/v1/ws", MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		_, conv, _ := c.State()
		senders[i] = &sender{c: c, conv: conv, acked: map[string]uint64{}}
	}
	sendCtx, stopSending := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, s := range senders {
		wg.Add(1)
		go func() { defer wg.Done(); s.loop(sendCtx, t, fmt.Sprintf("v%d", i)) }()
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for cycle := range cycles {
		time.Sleep(time.Duration(30+rng.IntN(250)) * time.Millisecond)
		p.kill()
		acked := 0
		for _, s := range senders {
			s.mu.Lock()
			acked += len(s.acked)
			s.mu.Unlock()
		}
		t.Logf("cycle %d: killed with %d messages acked", cycle, acked)
		p = startKefu(t, addr, data, args...)
	}
	stopSending()
	wg.Wait() // every sender finishes its in-flight message (acked by the last relay)
	for _, s := range senders {
		s.c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if code := p.term(ctx); code != 0 {
		t.Errorf("exit code after SIGTERM: %d\n%s", code, p.log())
	}

	st, err := boltdb.Open(data, boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Fatalf("database inconsistent after %d kills: %v", cycles, err)
	}
	total := 0
	for i, s := range senders {
		msgs, err := st.Messages(s.conv, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]uint64{}
		var mine []store.Message // the visitor's own; the bot may have answered some
		for k, m := range msgs {
			if m.Seq != uint64(k+1) {
				t.Fatalf("visitor %d: message %d has seq %d: seqs not contiguous", i, k, m.Seq)
			}
			if m.From != "visitor" {
				continue
			}
			mine = append(mine, m)
			if prev, dup := seen[m.ClientID]; dup {
				t.Errorf("visitor %d: %s stored twice (seqs %d and %d)", i, m.ClientID, prev, m.Seq)
			}
			seen[m.ClientID] = m.Seq
		}
		for id, seq := range s.acked {
			if seen[id] != seq {
				t.Errorf("visitor %d: acked %s as seq %d, stored as %d", i, id, seq, seen[id])
			}
		}
		// Every message the sender started was acked in the end (it never
		// gives up), so the store holds exactly the sent ones, in order.
		if len(mine) != s.sent || len(s.acked) != s.sent {
			t.Errorf("visitor %d: sent %d, acked %d, stored %d", i, s.sent, len(s.acked), len(mine))
		}
		for k, m := range mine {
			if want := fmt.Sprintf("v%d-%05d", i, k); m.ClientID != want {
				t.Fatalf("visitor %d: seq %d holds %s, want %s", i, m.Seq, m.ClientID, want)
			}
		}
		total += len(mine)
	}
	t.Logf("%d kill -9 cycles, %d messages, none lost or duplicated", cycles, total)
}
