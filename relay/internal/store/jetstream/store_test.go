package jetstream

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream/natstest"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
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
	n := 0
	b := storetest.Backend[*Store]{
		Open: func(t *testing.T, onAppend func(store.Appended)) *Store {
			n++
			return openOn(t, c, 0, prefixN(n), onAppend)
		},
		Peer: func(t *testing.T, s *Store) *Store {
			return openOn(t, c, 0, s.opts.Prefix, nil)
		},
		Close: func(s *Store) error { return s.Close() },
	}
	storetest.Desk(t, b)
	storetest.Privacy(t, b)
	storetest.Outbox(t, b)
	storetest.Files(t, b)
	storetest.Contact(t, b)
	storetest.Context(t, b)
	storetest.Tags(t, b)
	storetest.Identities(t, b)
	storetest.Users(t, b)
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
	n, peers := 0, 0
	b := storetest.Backend[*Store]{
		Open: func(t *testing.T, onAppend func(store.Appended)) *Store {
			n++
			s := openOn(t, c, 0, prefixN(n), onAppend)
			if s.Replicas() != 3 {
				t.Fatalf("replicas = %d on a three-server cluster, want 3", s.Replicas())
			}
			return s
		},
		Peer: func(t *testing.T, s *Store) *Store {
			peers++
			return openOn(t, c, 1+peers%2, s.opts.Prefix, nil)
		},
		Close: func(s *Store) error { return s.Close() },
	}
	storetest.Desk(t, b)
	storetest.Privacy(t, b)
	storetest.Outbox(t, b)
	storetest.Files(t, b)
	storetest.Contact(t, b)
	storetest.Context(t, b)
	storetest.Tags(t, b)
	storetest.Identities(t, b)
	storetest.Users(t, b)
}

func prefixN(n int) string { return "t" + string(rune('a'+n/26)) + string(rune('a'+n%26)) }
