// Package sched computes open-loop send times: event i of a run at rate R
// is due at start + i/R whatever happened to the events before it, so a
// stalled server cannot slow the generator down and hide its own latency
// (coordinated omission). Latency is then measured from the due time.
package sched

import (
	"context"
	"time"
)

// Plan is a constant-rate schedule split over several senders: sender k of
// n takes events k, k+n, k+2n, … of the whole run.
type Plan struct {
	Start time.Time
	Rate  float64       // events per second over all senders
	For   time.Duration // events are due in [Start, Start+For)
}

// Total is how many events the plan holds.
func (p Plan) Total() int64 {
	if p.Rate <= 0 || p.For <= 0 {
		return 0
	}
	return int64(p.For.Seconds() * p.Rate)
}

// At is when event i is due.
func (p Plan) At(i int64) time.Time {
	return p.Start.Add(time.Duration(float64(i) * float64(time.Second) / p.Rate))
}

// Sender is one sender's share of a plan.
type Sender struct {
	p    Plan
	k, n int64
	next int64
}

// Sender returns the share of sender k out of n.
func (p Plan) Sender(k, n int) *Sender {
	return &Sender{p: p, k: int64(k), n: int64(n), next: int64(k)}
}

// Next waits until the sender's next event is due and returns its index and
// due time; ok is false once the plan is over or ctx ended. If the sender
// is late it returns at once: the event keeps its original due time.
func (s *Sender) Next(ctx context.Context) (i int64, due time.Time, ok bool) {
	if s.next >= s.p.Total() {
		return 0, time.Time{}, false
	}
	i, due = s.next, s.p.At(s.next)
	s.next += s.n
	if d := time.Until(due); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0, time.Time{}, false
		}
	}
	return i, due, ctx.Err() == nil
}
