package jetstream

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream/natstest"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
)

// appender is the part of a store the benchmark drives.
type appender interface {
	storetest.ChatStore
}

// BenchmarkAppend measures durable appends (what a client's ack waits for)
// on bbolt and on JetStream, one server and three, with JetStream's default
// periodic sync and with every write fsynced. Writers append concurrently
// to 64 conversations, as visitors chat at once. Run:
//
//	go test ./relay/internal/store/jetstream -run '^$' -bench Append -benchtime 3s
//
// Ratios against bbolt in the same run are what docs/benchmarks.md quotes.
func BenchmarkAppend(b *testing.B) {
	b.Run("bbolt", func(b *testing.B) {
		s, err := boltdb.Open(b.TempDir(), boltdb.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchAppend(b, s)
	})
	for _, tc := range []struct {
		name    string
		servers int
		sync    bool
	}{
		{"jetstream-1-server", 1, false},
		{"jetstream-1-server-syncalways", 1, true},
		{"jetstream-3-servers-R3", 3, false},
		{"jetstream-3-servers-R3-syncalways", 3, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var c *natstest.Cluster
			if tc.servers == 1 {
				c = natstest.Run(b, natstest.Options{SyncAlways: tc.sync})
			} else {
				c = natstest.RunCluster(b, tc.servers, natstest.Options{SyncAlways: tc.sync})
			}
			s, err := Open(context.Background(), c.Connect(0), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchAppend(b, s)
		})
	}
}

func benchAppend(b *testing.B, s appender) {
	const convs = 64
	ids := make([]string, convs)
	for i := range ids {
		_, c := storetest.NewVisitor(b, s)
		ids[i] = c.ID
	}
	var n atomic.Int64
	b.SetParallelism(8) // 8 × GOMAXPROCS writers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			_, err := s.Append(context.Background(), ids[i%convs], store.NewMessage{ClientID: fmt.Sprint("m", i), From: "visitor", Text: "How long does delivery to Lyon take?"})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkResume measures a long replay — a console opening a
// conversation of 3000 messages, read on another server than the stream
// leader's of a three-server R3 cluster — by one get per message and by
// one consumer (what Messages does from consumerReadMin on). Run:
//
//	go test ./relay/internal/store/jetstream -run '^$' -bench Resume -benchtime 5x
func BenchmarkResume(b *testing.B) {
	c := natstest.RunCluster(b, 3, natstest.Options{})
	w, err := Open(context.Background(), c.Connect(0), Options{Prefix: "resume"})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	_, conv := storetest.NewVisitor(b, w)
	const total = 3000
	for i := 0; i < total; i += 50 {
		var batch []store.NewMessage
		for j := range 50 {
			batch = append(batch, store.NewMessage{ClientID: fmt.Sprint("m", i+j), From: "visitor", Text: "How long does delivery to Lyon take?"})
		}
		if _, err := w.Append(context.Background(), conv.ID, batch...); err != nil {
			b.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name       string
		consumerAt int
	}{{"gets", 0}, {"consumer", consumerReadMin}} {
		b.Run(tc.name, func(b *testing.B) {
			r, err := Open(context.Background(), c.Connect(2), Options{Prefix: "resume"})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			r.consumerReadMin = tc.consumerAt
			b.ResetTimer()
			for range b.N {
				msgs, err := r.Messages(conv.ID, 0, 0)
				if err != nil || len(msgs) != total {
					b.Fatalf("replay: %d messages, %v", len(msgs), err)
				}
			}
			b.ReportMetric(float64(b.N*total)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
