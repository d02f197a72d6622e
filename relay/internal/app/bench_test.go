package app_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/protocol"
)

// BenchmarkDurable measures durable chat at saturation through the real
// relay: visitors send as fast as their acks come back (closed loop), each
// with a second tab that receives on another node of the cluster (the
// same node when there is one). One node on bbolt and three nodes on
// embedded NATS (R3), all on this one box, in the same run: the ratio is
// what docs/benchmarks.md quotes. Run:
//
//	go test ./relay/internal/app -run '^$' -bench Durable -benchtime 3000x
//
// acked-msgs/s is acks per second of wall time; deliver-p50/p99-ms is the
// time from a send to its message at the other tab.
func BenchmarkDurable(b *testing.B) {
	for _, tc := range []struct {
		name  string
		nodes int
	}{{"one-node-bbolt", 1}, {"three-nodes-R3", 3}} {
		b.Run(tc.name, func(b *testing.B) {
			var relays []*apptest.Relay
			if tc.nodes == 1 {
				relays = []*apptest.Relay{apptest.Start(b, nil)}
			} else {
				relays = apptest.StartCluster(b, tc.nodes, nil)
			}
			benchDurable(b, relays)
		})
	}
}

func benchDurable(b *testing.B, relays []*apptest.Relay) {
	const visitors = 32
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var (
		mu        sync.Mutex
		sent      = map[string]time.Time{}
		latencies []time.Duration
		delivered atomic.Int64
	)
	senders := make([]*client.Client, visitors)
	for i := range visitors {
		s, err := client.Dial(ctx, client.Options{URL: relays[i%len(relays)].WS})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		tok, conv, _ := s.State()
		tab, err := client.Dial(ctx, client.Options{URL: relays[(i+1)%len(relays)].WS, Token: tok, ConversationID: conv,
			OnMessage: func(m protocol.Message) {
				if m.From != protocol.FromVisitor {
					return
				}
				now := time.Now()
				mu.Lock()
				if t0, ok := sent[m.Text]; ok {
					latencies = append(latencies, now.Sub(t0))
					delete(sent, m.Text)
				}
				mu.Unlock()
				delivered.Add(1)
			}})
		if err != nil {
			b.Fatal(err)
		}
		defer tab.Close()
		senders[i] = s
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for i, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
				text := fmt.Sprintf("v%d message %d", i, n)
				mu.Lock()
				sent[text] = time.Now()
				mu.Unlock()
				if _, err := s.Send(ctx, text); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := b.Elapsed()
	b.StopTimer()
	for deadline := time.Now().Add(time.Minute); delivered.Load() < int64(b.N); {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d messages reached the other tabs within a minute", delivered.Load(), b.N)
		}
		time.Sleep(20 * time.Millisecond) // polling the tabs' counts
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(latencies)
	at := func(q float64) float64 { return float64(latencies[int(q*float64(len(latencies)-1))]) / 1e6 }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "acked-msgs/s")
	b.ReportMetric(at(0.5), "deliver-p50-ms")
	b.ReportMetric(at(0.99), "deliver-p99-ms")
	b.ReportMetric(0, "ns/op")
}
