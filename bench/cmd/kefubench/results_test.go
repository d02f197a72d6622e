package main

import (
	"math"
	"testing"
	"time"

	"github.com/kefuhq/kefu/bench/internal/hist"
)

// round is a run whose chunks all lagged d, with cpu µs per chunk.
func round(n int, d time.Duration, cpu float64) AIRun {
	h := &aiHists{chunk: &hist.H{}, mid: &hist.H{}, first: &hist.H{}, ttft: &hist.H{}}
	for range n {
		h.chunk.Record(d)
		h.mid.Record(d)
	}
	h.first.Record(d)
	h.ttft.Record(d)
	r := AIRun{Path: "kefu", Streams: 100, Completes: 100, Chunks: int64(n), RelayUSPerChunk: cpu, RelayUSPerAnswer: cpu * float64(n) / 100, hists: h}
	r.Chunk, r.Mid, r.First, r.TTFT = h.chunk.Summarize(), h.mid.Summarize(), h.first.Summarize(), h.ttft.Summarize()
	return r
}

// Pooled rounds are one row over all their chunks: a round with 3 % of
// the chunks slow sets the pooled p99, one with 0.5 % does not; counts
// add up, the CPU per chunk is over all chunks, each round's own p99 is
// kept in order.
func TestPoolRounds(t *testing.T) {
	var r AIRun
	r.pool(round(970, time.Millisecond, 100))
	r.pool(round(30, 9*time.Millisecond, 100)) // 3 % of 1 000 chunks slow
	r.pool(round(1000, time.Millisecond, 40))
	if r.Chunks != 2000 || r.Completes != 300 || r.Streams != 100 {
		t.Fatalf("chunks %d completes %d streams %d, want 2000, 300, 100", r.Chunks, r.Completes, r.Streams)
	}
	if p99 := r.Chunk.P99M; p99 < 8 || p99 > 10 {
		t.Fatalf("pooled p99 %.2f ms, want about 9 (1.5 %% of all chunks are slow)", p99)
	}
	if want := (970*100.0 + 30*100 + 1000*40) / 2000; math.Abs(r.RelayUSPerChunk-want) > 1e-9 {
		t.Fatalf("CPU per chunk %.2f, want %.2f", r.RelayUSPerChunk, want)
	}
	if want := (970*100.0 + 30*100 + 1000*40) / 300; math.Abs(r.RelayUSPerAnswer-want) > 1e-9 {
		t.Fatalf("CPU per answer %.2f, want %.2f", r.RelayUSPerAnswer, want)
	}
	if len(r.RoundsP99MS) != 3 || r.RoundsP99MS[1] < 8 || r.RoundsP99MS[0] > 2 || r.RoundsP99MS[2] > 2 {
		t.Fatalf("rounds' p99s %v, want about [1 9 1]", r.RoundsP99MS)
	}

	var q AIRun
	q.pool(round(995, time.Millisecond, 50))
	q.pool(round(5, 9*time.Millisecond, 50)) // 0.5 % of all chunks slow
	if p99 := q.Chunk.P99M; p99 > 2 {
		t.Fatalf("pooled p99 %.2f ms, want about 1: 0.5 %% of the chunks are not the slowest 1 %%", p99)
	}
	if len(q.RoundsP99MS) != 2 {
		t.Fatalf("rounds' p99s %v, want two", q.RoundsP99MS)
	}
}
