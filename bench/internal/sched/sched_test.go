package sched

import (
	"context"
	"testing"
	"time"
)

func TestPlanTotalsAndSpacing(t *testing.T) {
	start := time.Unix(1000, 0)
	p := Plan{Start: start, Rate: 10000, For: 2 * time.Second}
	if got, want := p.Total(), int64(20000); got != want {
		t.Fatalf("total: got %d, want %d", got, want)
	}
	if got, want := p.At(0), start; !got.Equal(want) {
		t.Errorf("first: got %v, want %v", got, want)
	}
	if got, want := p.At(10000), start.Add(time.Second); !got.Equal(want) {
		t.Errorf("event 10000: got %v, want %v", got, want)
	}
	if got, want := p.At(1).Sub(p.At(0)), 100*time.Microsecond; got != want {
		t.Errorf("spacing: got %v, want %v", got, want)
	}
}

func TestSendersShareEveryEventOnce(t *testing.T) {
	// A plan in the past: Next never waits, so the test is instant.
	p := Plan{Start: time.Now().Add(-time.Hour), Rate: 1000, For: time.Second}
	seen := make([]int, p.Total())
	const n = 3
	for k := range n {
		s := p.Sender(k, n)
		prev := time.Time{}
		for {
			i, due, ok := s.Next(context.Background())
			if !ok {
				break
			}
			if i%n != int64(k) {
				t.Errorf("sender %d got event %d", k, i)
			}
			if due.Before(prev) {
				t.Errorf("sender %d: due times go backwards at %d", k, i)
			}
			prev = due
			seen[i]++
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("event %d sent %d times, want 1", i, c)
		}
	}
}

func TestLateSenderKeepsDueTimes(t *testing.T) {
	start := time.Now().Add(-50 * time.Millisecond)
	p := Plan{Start: start, Rate: 100, For: 100 * time.Millisecond}
	s := p.Sender(0, 1)
	i, due, ok := s.Next(context.Background())
	if !ok || i != 0 || !due.Equal(start) {
		t.Fatalf("got (%d, %v, %v), want event 0 due at the start", i, due, ok)
	}
}

func TestNextStopsWithContext(t *testing.T) {
	p := Plan{Start: time.Now().Add(time.Hour), Rate: 1, For: 2 * time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, ok := p.Sender(0, 1).Next(ctx); ok {
		t.Error("Next returned an event after the context ended")
	}
}
