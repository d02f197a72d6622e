package boltdb

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
)

// A write submitted while the writer moves a backlog of several chunks is
// acked after the chunk in progress, before the backlog is drained: the
// writer interleaves queued writes between chunks instead of holding them
// behind the whole move. The order is read from the writer's own hooks
// (OnLogCompact per chunk, OnAppend per commit), not from the clock.
func TestLogWriteAckedBetweenChunks(t *testing.T) {
	const backlog = 4 * logChunk
	const total = backlog + 1 // the backlog and the probe
	var (
		mu      sync.Mutex
		seq     []string // "chunk" or "probe", in the writer's order
		moved   int
		tooBig  int // entries of a step over logChunk
		leftAt  = -1
		inMove  = make(chan struct{})
		release = make(chan struct{})
		drained = make(chan struct{})
		once    sync.Once
		relOnce sync.Once
	)
	var s *Store
	s, _ = openTest(t, Options{
		LogCompactAt: backlog,
		OnLogCompact: func(n, _ int, _ time.Duration) {
			mu.Lock()
			seq = append(seq, "chunk")
			moved += n
			if n > logChunk {
				tooBig = n
			}
			done := moved == total
			mu.Unlock()
			if done {
				close(drained)
			}
			// Hold the writer inside the first chunk until the probe is queued.
			once.Do(func() { close(inMove); <-release })
		},
		OnAppend: func(a store.Appended) {
			if a.Messages[0].Text != "probe" {
				return
			}
			mu.Lock()
			seq = append(seq, "probe")
			leftAt = s.log.len()
			mu.Unlock()
		},
	})
	// Runs before the store's cleanup (LIFO): a failing test never leaves
	// the writer held in the hook.
	t.Cleanup(func() { relOnce.Do(func() { close(release) }) })

	convs := appendFromMany(t, s, backlog)
	select {
	case <-inMove:
	case <-time.After(60 * time.Second):
		t.Fatal("the log reached LogCompactAt and no move began")
	}

	acked := make(chan error, 1)
	go func() {
		_, err := s.Append(context.Background(), convs[0], store.NewMessage{From: "visitor", Text: "probe"})
		acked <- err
	}()
	// The probe must be queued while the first chunk is still in progress.
	for deadline := time.Now().Add(60 * time.Second); len(s.writes) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the probe was never queued")
		}
	}
	relOnce.Do(func() { close(release) })
	select {
	case err := <-acked:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the probe was never acked")
	}
	select {
	case <-drained:
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the log was never drained: %d of %d entries moved", moved, total)
	}

	// The last moved entries may go with a step after the last move.
	for deadline := time.Now().Add(60 * time.Second); logLen(t, s) != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the drain the log holds %d entries", logLen(t, s))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if tooBig > 0 {
		t.Errorf("a step moved %d entries, more than a chunk (%d)", tooBig, logChunk)
	}
	// The first chunk, the probe, then the rest of the backlog in
	// several chunks (how many depends on how conversations fill them).
	if len(seq) < 4 || seq[0] != "chunk" || seq[1] != "probe" || slices.Contains(seq[2:], "probe") {
		t.Errorf("writer order %v, want chunk, probe, then chunks: the probe's ack waited behind more than the chunk in progress", seq)
	}
	if leftAt < 3*logChunk {
		t.Errorf("when the probe was acked %d entries were left in the log, want the backlog (>= %d) still there", leftAt, 3*logChunk)
	}
	for i, conv := range convs {
		ms, err := s.Messages(conv, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := backlog / len(convs)
		if i == 0 {
			want++
		}
		if len(ms) != want {
			t.Errorf("conversation %d holds %d messages, want %d", i, len(ms), want)
		}
	}
}

// A step takes whole conversations in the order of their oldest entries
// and fills up with the oldest entries of the next one: never more than
// the chunk, and always the chunk when the log holds that many. What it
// leaves in the log after the oldest entry not moved stays listed as
// moved, until a later step deletes the prefix it is in.
func TestLogPick(t *testing.T) {
	at := func(ps ...uint64) []logRef {
		rs := make([]logRef, len(ps))
		for i, p := range ps {
			rs[i] = logRef{pos: p, seq: uint64(i + 1)}
		}
		return rs
	}
	fresh := func() *logIndex {
		return &logIndex{convs: map[string][]logRef{
			"a": at(3, 9),
			"b": at(4, 5, 6, 10, 11, 12, 13),
			"c": at(1, 7, 8, 14),
			"d": at(2),
		}, stale: map[string][]uint64{}, n: 14}
	}
	x := fresh()
	for _, c := range []struct {
		n    int
		want string
	}{
		{20, "c:4 d:1 a:2 b:7"},
		{6, "c:4 d:1 a:1"},
		{3, "c:3"},
	} {
		var got []string
		for _, p := range x.pick(c.n) {
			for i, r := range p.refs {
				if r.seq != uint64(i+1) {
					t.Fatalf("pick(%d): %s gives seq %d as its entry %d, want its oldest first", c.n, p.conv, r.seq, i)
				}
			}
			got = append(got, fmt.Sprintf("%s:%d", p.conv, len(p.refs)))
		}
		if s := strings.Join(got, " "); s != c.want {
			t.Errorf("pick(%d) = %s, want %s", c.n, s, c.want)
		}
	}

	// A step of 6 leaves a's 9 and all of b: the log before b's 4 goes,
	// c's 7, 8 and 14 stay as moved.
	p := x.pick(6)
	low := x.low(p, 15)
	if below := x.below(p, low); low != 4 || len(below) != 3 || !below[1] || !below[2] || !below[3] {
		t.Fatalf("first step: low %d, deletes %v; want 4 and 1, 2, 3", low, below)
	}
	x.drop(p, 3, low)
	if x.n != 8 || x.staleN != 3 || !slices.Equal(x.stale["c"], []uint64{7, 8, 14}) || x.convs["c"] != nil || len(x.convs["a"]) != 1 || x.horizon != 3 {
		t.Fatalf("after the first step: %d entries, %d stale %v, c %v, a %v, horizon %d", x.n, x.staleN, x.stale, x.convs["c"], x.convs["a"], x.horizon)
	}
	// The next step moves the rest, b first: everything goes.
	p = x.pick(8)
	if p[0].conv != "b" || p[1].conv != "a" {
		t.Fatalf("second step picks %v, want b then a", p)
	}
	low = x.low(p, 15)
	if below := x.below(p, low); low != 15 || len(below) != 11 {
		t.Fatalf("second step: low %d, deletes %d entries; want 15 and the 11 left", low, len(below))
	}
	x.drop(p, 13, low)
	if x.n != 0 || x.staleN != 0 || len(x.stale) != 0 || len(x.convs) != 0 || x.size() != 0 {
		t.Fatalf("after the second step: %d entries, %d stale %v, %v", x.n, x.staleN, x.stale, x.convs)
	}

	// An erasure forgets a conversation's moved entries too.
	x = fresh()
	x.drop(x.pick(6), 3, 4)
	x.apply(nil, map[string]bool{"c": true})
	if x.staleN != 0 || x.stale["c"] != nil || x.n != 8 {
		t.Errorf("after erasing c: %d stale %v, %d entries", x.staleN, x.stale, x.n)
	}
}

// A step that moves a conversation whole while an older one stays in the
// log deletes only the log's prefix before that one's oldest entry: the
// rest of what it moved stays in the log, reads once, counts as moved
// when the file is opened again (and in the check), goes with an erasure,
// and goes with the step that moves the prefix it is in.
func TestLogDeletesMovedPrefix(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, Options{LogCompactAt: 1 << 20})
	// No idle move: the test makes each step (an exclusive op runs on the
	// writer goroutine, which alone reads logRetry).
	hold := func() error { s.logRetry = time.Now().Add(time.Hour); return nil }
	if err := s.submit(ctx, &op{exclusive: hold, done: make(chan error, 1)}); err != nil {
		t.Fatal(err)
	}
	_, a := newVisitor(t, s)
	_, b := newVisitor(t, s)
	texts := map[string][]string{}
	// a's and b's messages alternate in runs of 10: 300 each, a oldest.
	for round := range 30 {
		for _, conv := range []string{a.ID, b.ID} {
			ms := make([]store.NewMessage, 10)
			for i := range ms {
				ms[i] = store.NewMessage{ClientID: fmt.Sprintf("%d-%d", round, i), From: "visitor", Text: fmt.Sprintf("%s %d %d", conv[:4], round, i)}
				texts[conv] = append(texts[conv], ms[i].Text)
			}
			if _, err := s.Append(ctx, conv, ms...); err != nil {
				t.Fatal(err)
			}
		}
	}
	firstKey := func(st *Store) uint64 {
		var first uint64
		st.view(func(tx *bolt.Tx) error {
			if k, _ := tx.Bucket(bucketLog).Cursor().First(); k != nil {
				first = binary.BigEndian.Uint64(k)
			}
			return nil
		})
		return first
	}
	readAll := func(st *Store) {
		t.Helper()
		for conv, want := range texts {
			for _, after := range []int{0, 150, 299} {
				ms, err := st.Messages(conv, uint64(after), 0)
				if err != nil || len(ms) != len(want)-after {
					t.Fatalf("Messages(%s, after %d): %d, %v; want %d", conv, after, len(ms), err, len(want)-after)
				}
				for i, m := range ms {
					if m.Seq != uint64(after+i+1) || m.Text != want[after+i] {
						t.Fatalf("Messages(%s, after %d)[%d] = %d %q, want %d %q", conv, after, i, m.Seq, m.Text, after+i+1, want[after+i])
					}
				}
			}
		}
	}

	// The first step: a whole (300) and b's oldest 212. b's 213th entry is
	// at position 420+12+1 (runs of 10: b's 21st run starts at 421, and
	// the 3rd entry of it is the 213th): everything before goes, a's
	// entries after it stay, moved.
	moveLog(t, s)
	if s.log.len() != 88 {
		t.Fatalf("after the first step %d entries are not moved, want 88", s.log.len())
	}
	low := s.log.convs[b.ID][0].pos
	if first := firstKey(s); first != low {
		t.Errorf("the log begins at position %d, want %d (b's oldest entry not moved)", first, low)
	}
	if s.log.staleN != 80 || logLen(t, s) != 168 {
		t.Errorf("the log holds %d entries of which %d moved; want 88 + a's last 80", logLen(t, s), s.log.staleN)
	}
	readAll(s)
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	if a, err := s.Append(ctx, a.ID, store.NewMessage{ClientID: "29-9", From: "visitor", Text: "again"}); err != nil || !a.Duplicate[0] || a.Messages[0].Seq != 300 {
		t.Fatalf("resend of a moved message still in the log: %+v, %v", a, err)
	}

	// A copy (as a kill leaves the file) tells moved entries from the rest.
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup(ctx, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c, err := Open(dir, Options{LogCompactAt: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.log.len() != 88 || c.log.staleN != 80 {
		t.Fatalf("reopened: %d entries not moved, %d moved; want 88 and 80", c.log.len(), c.log.staleN)
	}
	readAll(c)
	// Erasing a removes its moved entries from the log too.
	if n, err := c.DeleteConversations(ctx, []string{a.ID}); err != nil || n != 1 {
		t.Fatalf("erase: %d, %v", n, err)
	}
	if n := logLen(t, c); n != 88 || c.log.staleN != 0 {
		t.Errorf("after erasing a the log holds %d entries (%d moved), want b's 88", n, c.log.staleN)
	}

	// The second step moves b's rest: the log is empty.
	moveLog(t, s)
	if n := logLen(t, s); n != 0 || s.log.size() != 0 {
		t.Fatalf("after the second step the log holds %d entries (index %d)", n, s.log.size())
	}
	readAll(s)
}

// A drain the log's length started (a busy store) stops once the log is
// under half of LogCompactAt, so the entries it leaves keep amortising a
// conversation's leaf over several messages; it does not move the log's
// last one-or-two-per-conversation entries while writes keep coming. The
// idle timer is an hour here, so nothing else moves the log; each write
// lets a draining writer move at most one chunk first.
func TestLogBusyDrainStopsAtHalf(t *testing.T) {
	const at = 4 * logChunk
	s, _ := openTest(t, Options{LogCompactAt: at, idleAfter: time.Hour})
	appendFromMany(t, s, at)
	noop := func() {
		t.Helper()
		if err := s.update(context.Background(), func(*bolt.Tx) error { return nil }, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Enough turns to drain the whole log one chunk at a time, and more.
	for range at/logChunk + 4 {
		noop()
	}
	if n := s.log.len(); n == 0 || n >= at/2 {
		t.Fatalf("after a busy drain the log holds %d entries, want under %d but not none", n, at/2)
	}
}

// appendFromMany makes 8 conversations and appends n visitor messages to
// them from 16 writers at once (the group commit's batches), and returns
// the conversations.
func appendFromMany(t *testing.T, s *Store, n int) []string {
	t.Helper()
	convs := make([]string, 8)
	for i := range convs {
		_, c := newVisitor(t, s)
		convs[i] = c.ID
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				if _, err := s.Append(context.Background(), convs[i%len(convs)], store.NewMessage{From: "visitor", Text: fmt.Sprint(i)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return convs
}
