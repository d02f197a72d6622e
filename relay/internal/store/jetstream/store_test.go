package jetstream

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream/natstest"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func openOn(t *testing.T, c *natstest.Cluster, server int, prefix string, onAppend func(store.Appended)) *Store {
	t.Helper()
	opts := Options{
		Prefix: prefix, OnAppend: onAppend,
		// Creating three-replica streams while other suites load the box's
		// two cores took over the default 10 s once; nothing here is timed.
		Timeout: 45 * time.Second,
		Logger:  slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	// Open is idempotent, and a creation JetStream answered too late on a
	// box at load 20 (its reply lost while the meta group was busy) goes
	// through on the next try, as the relay's own start tries again.
	deadline := time.Now().Add(3 * time.Minute)
	var s *Store
	var err error
	for try := 1; ; try++ {
		if s, err = Open(context.Background(), c.Connect(server), opts); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Open on server %d, %d tries: %v", server, try, err)
		}
		t.Logf("Open on server %d, try %d: %v; trying again", server, try, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformanceSingle runs the suite on one server: every subtest gets
// its own prefix, so its own stream and buckets.
func TestConformanceSingle(t *testing.T) {
	c := natstest.Run(t, natstest.Options{})
	admin := c.Connect(0)
	var n atomic.Int64
	b := storetest.Backend[*Store]{
		Open: func(t *testing.T, onAppend func(store.Appended)) *Store {
			prefix := prefixN(int(n.Add(1)))
			dropAtEnd(t, admin, prefix)
			return openOn(t, c, 0, prefix, onAppend)
		},
		Peer: func(t *testing.T, s *Store) *Store {
			return openOn(t, c, 0, s.opts.Prefix, nil)
		},
		Close: func(s *Store) error { return s.Close() },
	}
	conformance(t, b)
}

// TestConformanceCluster runs the suite on three servers with three
// replicas, each peer store on another server than the first.
func TestConformanceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-server cluster: not in -short")
	}
	c := natstest.RunCluster(t, 3, natstest.Options{})
	// Servers accept connections before JetStream counts every peer; a
	// stream made then fails placement ("peer offline") on a loaded box.
	c.WaitForLeader()
	admin := c.Connect(0)
	var n, peers atomic.Int64
	b := storetest.Backend[*Store]{
		Open: func(t *testing.T, onAppend func(store.Appended)) *Store {
			prefix := prefixN(int(n.Add(1)))
			dropAtEnd(t, admin, prefix)
			s := openOn(t, c, 0, prefix, onAppend)
			if s.Replicas() != 3 {
				t.Fatalf("replicas = %d on a three-server cluster, want 3", s.Replicas())
			}
			return s
		},
		Peer: func(t *testing.T, s *Store) *Store {
			return openOn(t, c, 1+int(peers.Add(1)%2), s.opts.Prefix, nil)
		},
		Close: func(s *Store) error { return s.Close() },
	}
	conformance(t, b)
}

// dropAtEnd deletes every stream of prefix when t ends, after the stores
// t opened on it have closed (so register it before opening them). A
// three-server cluster keeps a Raft group per stream, and each group's
// leader beats every second: the suite's 60-odd prefixes, 19 streams
// each, left over a thousand groups, which slowed every later check and
// then the servers' shutdown. A stream left behind only costs time, so a
// failure to delete it is logged, not failed.
func dropAtEnd(t *testing.T, nc *nats.Conn, prefix string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		defer cancel()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Logf("drop prefix %s: %v", prefix, err)
			return
		}
		var names []string
		list := js.StreamNames(ctx)
		for name := range list.Name() {
			if name == StreamName(prefix) || strings.HasPrefix(name, "KV_"+prefix+"_") || strings.HasPrefix(name, "OBJ_"+prefix+"_") {
				names = append(names, name)
			}
		}
		if err := list.Err(); err != nil {
			t.Logf("drop prefix %s: list streams: %v", prefix, err)
		}
		for _, name := range names {
			if err := js.DeleteStream(ctx, name); err != nil {
				t.Logf("drop prefix %s: delete stream %s: %v", prefix, name, err)
			}
		}
	})
}

// conformanceWidth is how many of the suite's checks run at once, each on
// a prefix (stream and buckets) of its own. A check mostly waits on the
// servers: on a quiet box the cluster suite took 93.5 s one check at a
// time, 61.3 s two at a time, 45-50 s four at a time and 48.2 s six at a
// time (with dropAtEnd; docs/decisions.md, "Test suite time").
const conformanceWidth = 4

// conformance runs every group of the storage suite that JetStream owes,
// conformanceWidth checks at a time.
func conformance(t *testing.T, b storetest.Backend[*Store]) {
	storetest.Together(t, b, conformanceWidth,
		storetest.Desk[*Store], storetest.Privacy[*Store], storetest.Outbox[*Store], storetest.Files[*Store],
		storetest.Contact[*Store], storetest.Context[*Store], storetest.Tags[*Store], storetest.Identities[*Store],
		storetest.Users[*Store])
}

func prefixN(n int) string { return "t" + string(rune('a'+n/26)) + string(rune('a'+n%26)) }
