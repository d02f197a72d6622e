package boltdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/kefuhq/kefu/relay/internal/store"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/protocol"
	bolt "go.etcd.io/bbolt"
)

// openTest opens a store in a fresh directory and, on cleanup, closes it and
// checks the file's consistency.
func openTest(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Check(); err != nil && !errors.Is(err, bolt.ErrDatabaseNotOpen) {
			t.Errorf("consistency: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, dir
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func newVisitor(t testing.TB, s *Store) (store.Visitor, store.Conversation) {
	t.Helper()
	h := sha256.Sum256([]byte(store.NewID()))
	v, c, err := s.CreateVisitor(context.Background(), h[:], "")
	if err != nil {
		t.Fatalf("CreateVisitor: %v", err)
	}
	return v, c
}

// Many concurrent writers: every message stored once, seqs contiguous, the
// OnAppend hook sees seqs in order, and writes share commits.
func TestGroupCommitConcurrentWriters(t *testing.T) {
	var commits, appends atomic.Int64
	var mu sync.Mutex
	lastSeen := map[string]uint64{}
	var orderErr error
	s, _ := openTest(t, Options{
		OnCommit: func(n int, _ time.Duration, err error) {
			if err == nil {
				commits.Add(1)
			}
		},
		OnAppend: func(a store.Appended) {
			appends.Add(1)
			mu.Lock()
			defer mu.Unlock()
			for _, m := range a.Messages {
				if m.Seq != lastSeen[m.ConversationID]+1 && orderErr == nil {
					orderErr = fmt.Errorf("conversation %s: seq %d after %d", m.ConversationID, m.Seq, lastSeen[m.ConversationID])
				}
				lastSeen[m.ConversationID] = m.Seq
			}
		},
	})
	ctx := context.Background()
	const convs, writers, each = 4, 32, 25
	var ids []string
	for range convs {
		_, c := newVisitor(t, s)
		ids = append(ids, c.ID)
	}
	commitsBefore := commits.Load()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				conv := ids[(w+i)%convs]
				if _, err := s.Append(ctx, conv, store.NewMessage{ClientID: fmt.Sprintf("w%d-%d", w, i), From: protocol.FromVisitor, Text: "x"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if orderErr != nil {
		t.Error(orderErr)
	}
	total := 0
	for _, id := range ids {
		ms, err := s.Messages(id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range ms {
			if m.Seq != uint64(i+1) {
				t.Fatalf("conversation %s: message %d has seq %d", id, i, m.Seq)
			}
		}
		total += len(ms)
	}
	if total != writers*each || appends.Load() != writers*each {
		t.Errorf("stored %d, hook saw %d, want %d", total, appends.Load(), writers*each)
	}
	used := commits.Load() - commitsBefore
	t.Logf("%d appends in %d commits", writers*each, used)
	if used >= int64(writers*each) {
		t.Errorf("%d commits for %d concurrent appends: writes are not grouped", used, writers*each)
	}
}

// A write that fails its own checks inside a batch must not take the
// others down with it.
func TestBatchIsolatesFailingWrite(t *testing.T) {
	s, _ := openTest(t, Options{})
	_, c := newVisitor(t, s)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conv := c.ID
			if i%4 == 0 {
				conv = "missing-" + fmt.Sprint(i)
			}
			_, errs[i] = s.Append(ctx, conv, store.NewMessage{ClientID: fmt.Sprint(i), From: protocol.FromVisitor, Text: "x"})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i%4 == 0 && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("write %d to a missing conversation: err = %v", i, err)
		}
		if i%4 != 0 && err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	ms, _ := s.Messages(c.ID, 0, 0)
	if len(ms) != 30 {
		t.Errorf("stored %d, want 30", len(ms))
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("token"))
	v, c, err := s.CreateVisitor(context.Background(), h[:], "ab")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(context.Background(), c.ID, store.NewMessage{ClientID: "a", From: protocol.FromVisitor, Text: "persist me"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(context.Background(), c.ID, store.NewMessage{From: protocol.FromVisitor, Text: "x"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("append after close: %v, want ErrClosed", err)
	}
	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err := s2.VisitorByToken(h[:])
	if err != nil || got.ID != v.ID || got.ConversationID != c.ID {
		t.Fatalf("VisitorByToken = %+v, %v", got, err)
	}
	ms, _ := s2.Messages(c.ID, 0, 0)
	if len(ms) != 1 || ms[0].Text != "persist me" {
		t.Errorf("messages after reopen: %v", ms)
	}
	if a, _ := s2.Append(context.Background(), c.ID, store.NewMessage{ClientID: "a", From: protocol.FromVisitor, Text: "again"}); !a.Duplicate[0] {
		t.Errorf("client id forgotten across restart")
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	s, dir := openTest(t, Options{})
	_ = s
	start := time.Now()
	_, err := Open(dir, Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second Open took %s", d)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(dir+"/"+FileName, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, []byte{0, 0, 0, 0, 0, 0, 0, 99})
	})
	db.Close()
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open newer schema: %v, want ErrNewerSchema", err)
	}
}

// BenchmarkAppend measures durable appends from many concurrent writers
// into 1000 conversations (the benchmark's chat shape): writes share
// commits, so ns/op falls as concurrency rises.
func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 64, 1024} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			var commits, batched atomic.Int64
			s, _ := openTest(b, Options{Logger: slog.New(slog.DiscardHandler), OnCommit: func(n int, _ time.Duration, err error) {
				commits.Add(1)
				batched.Add(int64(n))
			}})
			const convs = 1000
			ids := make([]string, convs)
			for i := range ids {
				_, c := newVisitor(b, s)
				ids[i] = c.ID
			}
			text := strings.Repeat("x", 200)
			var n atomic.Int64
			commits.Store(0)
			batched.Store(0)
			io0 := s.IOStats()
			b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if _, err := s.Append(context.Background(), ids[i%convs], store.NewMessage{ClientID: fmt.Sprint(i), From: protocol.FromVisitor, Text: text}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			if c := commits.Load(); c > 0 {
				b.ReportMetric(float64(batched.Load())/float64(c), "writes/commit")
			}
			// Page writes per message: what a commit costs in I/O,
			// steady however loaded the machine is.
			io := s.IOStats()
			b.ReportMetric(float64(io.Writes-io0.Writes)/float64(b.N), "pwrites/msg")
		})
	}
}

// A database written by schema 1 (client ids in their own bucket) opens
// migrated: its messages are intact and resending an old id stores nothing.
func TestMigrateClientIDsIntoMessages(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, c := newVisitor(t, s)
	if _, err := s.Append(context.Background(), c.ID, store.NewMessage{ClientID: "old-1", From: protocol.FromVisitor, Text: "before the upgrade"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Rewrite the file as schema 1 left it.
	db, err := bolt.Open(dir+"/"+FileName, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketMessages)
		old, err := tx.CreateBucket([]byte("client_ids"))
		if err != nil {
			return err
		}
		k := clientIDKey(c.ID, "old-1")
		v := mb.Get(k)
		if err := old.Put(append(append([]byte(c.ID), 0), "old-1"...), v); err != nil {
			return err
		}
		if err := mb.Delete(k); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint64(nil, 1))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	a, err := s2.Append(context.Background(), c.ID, store.NewMessage{ClientID: "old-1", From: protocol.FromVisitor, Text: "resent after the upgrade"})
	if err != nil || !a.Duplicate[0] || a.Messages[0].Seq != 1 {
		t.Fatalf("resend after migration: %+v %v", a, err)
	}
	ms, _ := s2.Messages(c.ID, 0, 0)
	if len(ms) != 1 || ms[0].Text != "before the upgrade" {
		t.Errorf("messages after migration: %+v", ms)
	}
	s2.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("client_ids")) != nil {
			t.Error("old bucket left behind")
		}
		return nil
	})
}

// Client ids stored next to messages never read as messages, whatever
// their length (a 7-byte id makes a key as long as a message key).
func TestClientIDKeysAreNotMessages(t *testing.T) {
	s, _ := openTest(t, Options{})
	_, c := newVisitor(t, s)
	for _, id := range []string{"a", "1234567", "12345678", strings.Repeat("z", 64)} {
		if _, err := s.Append(context.Background(), c.ID, store.NewMessage{ClientID: id, From: protocol.FromVisitor, Text: id}); err != nil {
			t.Fatal(err)
		}
	}
	ms, _ := s.Messages(c.ID, 0, 0)
	if len(ms) != 4 {
		t.Fatalf("got %d messages, want 4", len(ms))
	}
	for i, m := range ms {
		if m.Seq != uint64(i+1) {
			t.Errorf("message %d has seq %d", i, m.Seq)
		}
	}
}

// BenchmarkCreateVisitor measures new visitors created by 64 concurrent
// connects (the capacity benchmark's shape): bytes and allocations per
// visitor are what a connect burst leaves for the GC, and page writes per
// visitor what it costs the disk; both steady however loaded the machine
// is. -run '^$' -bench CreateVisitor -benchmem.
func BenchmarkCreateVisitor(b *testing.B) {
	var commits, batched atomic.Int64
	s, _ := openTest(b, Options{Logger: slog.New(slog.DiscardHandler), OnCommit: func(n int, _ time.Duration, err error) {
		commits.Add(1)
		batched.Add(int64(n))
	}})
	for range 2000 { // a tree more than one leaf deep
		newVisitor(b, s)
	}
	commits.Store(0)
	batched.Store(0)
	io0 := s.IOStats()
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			// As the relay stores a token: its time, then its hash.
			var sum [32]byte
			rand.Read(sum[:])
			key := append([]byte(store.TimeKey(time.Now())), sum[:]...)
			if _, _, err := s.CreateVisitor(context.Background(), key, "fp"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if c := commits.Load(); c > 0 {
		b.ReportMetric(float64(batched.Load())/float64(c), "writes/commit")
	}
	b.ReportMetric(float64(s.IOStats().Writes-io0.Writes)/float64(b.N), "pwrites/visitor")
}
