package boltdb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
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
		OnLogCompact: func(n int, _ time.Duration) {
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

	convs := make([]string, 8)
	for i := range convs {
		_, c := newVisitor(t, s)
		convs[i] = c.ID
	}
	var wg sync.WaitGroup
	errs := make(chan error, backlog)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < backlog; i += 16 {
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
	if n := logLen(t, s); n != 0 {
		t.Errorf("after the drain the log holds %d entries", n)
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

// A step takes the conversations with the most log entries first, whole,
// and fills up with the oldest entries of the next one: never more than
// the chunk, and always the chunk when the log holds that many.
func TestLogPick(t *testing.T) {
	refs := func(n int) []logRef {
		rs := make([]logRef, n)
		for i := range rs {
			rs[i] = logRef{pos: uint64(100*n + i), seq: uint64(i + 1)}
		}
		return rs
	}
	x := &logIndex{convs: map[string][]logRef{"a": refs(2), "b": refs(7), "c": refs(4), "d": refs(1)}, n: 14}
	for _, c := range []struct {
		n    int
		want string
	}{
		{20, "b:7 c:4 a:2 d:1"},
		{11, "b:7 c:4"},
		{10, "b:7 c:3"},
		{3, "b:3"},
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
	x.drop(x.pick(10), 5)
	if x.n != 4 || len(x.convs["c"]) != 1 || x.convs["c"][0].seq != 4 || x.convs["b"] != nil || x.horizon != 5 {
		t.Errorf("after dropping a step of 10: %d entries, c = %v, b = %v, horizon %d", x.n, x.convs["c"], x.convs["b"], x.horizon)
	}
}
