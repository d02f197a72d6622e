package ai

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := NewLimiter(2, 1)
	ctx := t.Context()
	relA, err := l.Acquire(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	// Visitor a's second answer waits for its first.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err = l.Acquire(short, "a")
	cancel()
	if !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second slot for a: got %v, want ErrBusy and DeadlineExceeded", err)
	}
	relB, err := l.Acquire(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	// Global limit of 2 reached: c waits, and gets in once a releases.
	got := make(chan error, 1)
	go func() {
		rel, err := l.Acquire(ctx, "c")
		if err == nil {
			rel()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("c got a slot past the global limit: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	relA()
	relA() // a second release is a no-op
	if err := <-got; err != nil {
		t.Errorf("c after release: %v", err)
	}
	relB()
	eventually(t, time.Second, "the limiter to be empty", func() bool { return l.InUse() == 0 && l.Visitors() == 0 })
}

func TestLimiterConcurrent(t *testing.T) {
	l := NewLimiter(3, 2)
	var mu sync.Mutex
	inUse, peak := 0, 0
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			rel, err := l.Acquire(t.Context(), string(rune('a'+i%5)))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inUse++
			peak = max(peak, inUse)
			mu.Unlock()
			time.Sleep(time.Millisecond) // hold the slot a moment: this is the work, not synchronisation
			mu.Lock()
			inUse--
			mu.Unlock()
			rel()
		})
	}
	wg.Wait()
	if peak > 3 {
		t.Errorf("peak %d slots in use, want ≤ 3", peak)
	}
	if l.Visitors() != 0 {
		t.Errorf("visitor entries left: %d", l.Visitors())
	}
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestBudget(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)}
	b := NewBudget(1000, time.UTC, clock.Now)

	r1, err := b.Reserve(600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reserve(600); !errors.Is(err, ErrBudget) {
		t.Errorf("overlapping reservation: got %v, want ErrBudget", err)
	}
	r1.Commit(150)
	r1.Commit(999) // only the first commit counts
	if got, want := b.Snapshot(), (BudgetSnapshot{Day: "2026-03-01", Used: 150}); got != want {
		t.Errorf("snapshot: got %+v, want %+v", got, want)
	}
	if got, want := b.Remaining(), int64(850); got != want {
		t.Errorf("remaining: got %d, want %d", got, want)
	}
	r2, err := b.Reserve(850)
	if err != nil {
		t.Fatalf("exact fit: %v", err)
	}
	r2.Commit(850)
	if _, err := b.Reserve(1); !errors.Is(err, ErrBudget) {
		t.Errorf("spent budget: got %v, want ErrBudget", err)
	}

	// A restart restores today's usage, not yesterday's.
	b2 := NewBudget(1000, time.UTC, clock.Now)
	b2.Restore(BudgetSnapshot{Day: "2026-02-28", Used: 900})
	if got := b2.Snapshot().Used; got != 0 {
		t.Errorf("restored another day's usage: %d", got)
	}
	b2.Restore(b.Snapshot())
	if got := b2.Snapshot().Used; got != 1000 {
		t.Errorf("restore: got %d, want 1000", got)
	}

	// Midnight: a new day, a new budget.
	clock.Add(2 * time.Hour)
	if got, want := b.Snapshot(), (BudgetSnapshot{Day: "2026-03-02", Used: 0}); got != want {
		t.Errorf("after midnight: got %+v, want %+v", got, want)
	}
	if _, err := b.Reserve(1000); err != nil {
		t.Errorf("new day: %v", err)
	}

	unlimited := NewBudget(0, time.UTC, clock.Now)
	if _, err := unlimited.Reserve(1 << 30); err != nil || unlimited.Remaining() != -1 {
		t.Errorf("unlimited: %v, remaining %d", err, unlimited.Remaining())
	}
}

func TestCache(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	c := NewCache(2, time.Minute, clock.Now)
	s := DefaultSettings()
	k := func(q, scope string) CacheKey { return NewCacheKey(s, "v1", q, scope) }

	c.Put(k("Opening hours?", ""), "9 to 17")
	tests := []struct {
		name    string
		key     CacheKey
		wantHit bool
	}{
		{name: "same question normalised", key: k("  opening   HOURS ", ""), wantHit: true},
		{name: "other question", key: k("opening hours on sunday", ""), wantHit: false},
		{name: "other scope", key: k("opening hours", "fp-visitor-b"), wantHit: false},
		{name: "other grounding version", key: NewCacheKey(s, "v2", "opening hours", ""), wantHit: false},
		{name: "other settings", key: func() CacheKey { x := s; x.SystemPrompt = "other"; return NewCacheKey(x, "v1", "opening hours", "") }(), wantHit: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, hit := c.Get(tt.key)
			if hit != tt.wantHit {
				t.Errorf("hit: got %v, want %v", hit, tt.wantHit)
			}
		})
	}
	if got, want := c.Stats(), (CacheStats{Hits: 1, Misses: 4, Entries: 1}); got != want {
		t.Errorf("stats: got %+v, want %+v", got, want)
	}

	// LRU: touching the first entry makes the second the one evicted.
	c.Put(k("b", ""), "B")
	c.Get(k("opening hours", ""))
	c.Put(k("c", ""), "C")
	if _, hit := c.Get(k("b", "")); hit {
		t.Error("least recently used entry survived")
	}
	if _, hit := c.Get(k("opening hours", "")); !hit {
		t.Error("recently used entry evicted")
	}
	// TTL.
	clock.Add(2 * time.Minute)
	if _, hit := c.Get(k("c", "")); hit {
		t.Error("expired entry served")
	}
}
