package cluster

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestLeaseElectsOneHolderAndMovesWhenItGoes(t *testing.T) {
	nodes := startNodes(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	leases := make([]*Lease, 3)
	cancels := make([]context.CancelFunc, 3)
	done := make([]chan struct{}, 3)
	var gained [3]atomic.Int32
	for i, n := range nodes {
		l, err := NewLease(ctx, n, "kefu", 3, "router", func(held bool) {
			if held {
				gained[i].Add(1)
			}
		}, testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		leases[i] = l
		var rctx context.Context
		rctx, cancels[i] = context.WithCancel(ctx)
		done[i] = make(chan struct{})
		go func() { defer close(done[i]); l.Run(rctx) }()
		t.Cleanup(func() { cancels[i](); <-done[i] })
	}
	holders := func() []int {
		var h []int
		for i, l := range leases {
			if l.Held() {
				h = append(h, i)
			}
		}
		return h
	}
	eventually(t, "one holder", 30*time.Second, func() bool { return len(holders()) == 1 })
	first := holders()[0]
	// Renewals keep it where it is: the entry's revision moves, the holder
	// does not, for longer than the lease lives without renewal.
	revision := func() uint64 { l := leases[first]; l.mu.Lock(); defer l.mu.Unlock(); return l.rev }
	start, since := revision(), time.Now()
	eventually(t, "renewals", LeaseTTL*3, func() bool {
		if h := holders(); len(h) != 1 || h[0] != first {
			t.Fatalf("holders %v during renewals, want still [%d]", h, first)
		}
		return revision() >= start+3 && time.Since(since) > LeaseTTL
	})
	// A holder that stops gives the lease up at once.
	cancels[first]()
	<-done[first]
	eventually(t, "a new holder after a release", 30*time.Second, func() bool { h := holders(); return len(h) == 1 && h[0] != first })
	second := holders()[0]
	if gained[second].Load() != 1 {
		t.Errorf("node %d was told it gained the lease %d times", second, gained[second].Load())
	}
	// A holder that dies (its connection gone, nothing released) loses it
	// after LeaseTTL, and never two hold it meanwhile.
	nodes[second].Conn.Close()
	eventually(t, "a new holder after a death", LeaseTTL+20*time.Second, func() bool {
		for _, i := range holders() {
			if i != second && i != first {
				return true
			}
		}
		return false
	})
	if h := holders(); len(h) != 1 {
		t.Errorf("holders %v: want exactly one", h)
	}
}

func TestHealthNeedsAQuorum(t *testing.T) {
	nodes := startNodes(t, 3)
	js, _ := jetstream.New(nodes[0].Conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEFU_MESSAGES", Subjects: []string{"kefu.msg.>"}, Replicas: 3, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h, err := NewHealth(nodes[0], "KEFU_MESSAGES", reg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	var rejoined atomic.Int32
	nodes[0].OnRejoin(func() { rejoined.Add(1) })
	eventually(t, "ready with three nodes", 30*time.Second, func() bool { h.Check(ctx); return h.Ready() == nil })
	eventually(t, "three current replicas", 30*time.Second, func() bool {
		h.Check(ctx)
		return testutil.ToFloat64(h.peers.WithLabelValues("current")) == 3
	})
	if n := testutil.CollectAndCount(h.streamLeader); n != 1 {
		t.Errorf("%d stream leaders in the metrics, want 1", n)
	}

	nodes[1].Close()
	nodes[2].Close()
	eventually(t, "not ready without a majority", 60*time.Second, func() bool {
		h.Check(ctx)
		err := h.Ready()
		return err != nil && strings.Contains(err.Error(), ErrNoQuorum.Error())
	})
	if got := testutil.ToFloat64(h.ready); got != 0 {
		t.Errorf("kefu_cluster_ready = %v without a quorum", got)
	}
	if rejoined.Load() != 0 {
		t.Error("rejoin reported before the node was back in touch")
	}
}

// A JetStream that never answers a request does not hold a node's start
// on one attempt: each is bounded and another is made until ctx ends.
func TestNewLeaseAsksAgainWhenAnswersAreLost(t *testing.T) {
	s := runServer(t, false)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var asked atomic.Int32
	sub, err := nc.Subscribe("$JS.API.>", func(*nats.Msg) { asked.Add(1) }) // and never answers
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_, err = NewLease(ctx, &Node{ID: "n1", Conn: nc}, "kefu", 1, "router", nil, testLog(t))
	if err == nil {
		t.Fatal("a lease without JetStream")
	}
	if n := asked.Load(); n < 2 {
		t.Errorf("JetStream was asked %d times in 3 s: one lost answer held the whole start", n)
	}
}
