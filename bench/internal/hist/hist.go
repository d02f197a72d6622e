// Package hist is a log-linear latency histogram: 64 sub-buckets per power
// of two, so every recorded value is kept within 1/64 (1.6 %) of itself,
// from 1 ns to hours, in a fixed 4 KB of counters. Recording is one atomic
// add, so many reader goroutines can share one histogram; histograms from
// several generator processes merge by adding counts.
package hist

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

const (
	subBits = 6 // 64 sub-buckets per power of two
	sub     = 1 << subBits
	// buckets covers values below 2^(64-subBits+subBits): every uint64.
	buckets = (64 - subBits + 1) * sub
)

// H is a histogram of durations in nanoseconds. The zero value is ready.
type H struct {
	counts [buckets]atomic.Uint64
	max    atomic.Int64
}

// index maps a value to its bucket: values below 64 have a bucket each;
// above, the top subBits+1 significant bits choose the bucket.
func index(v uint64) int {
	if v < sub {
		return int(v)
	}
	e := bits.Len64(v) - subBits - 1 // shift that leaves subBits+1 bits
	return (e+1)*sub + int(v>>uint(e)) - sub
}

// lower is the smallest value that falls in bucket i.
func lower(i int) uint64 {
	if i < sub {
		return uint64(i)
	}
	e := i/sub - 1
	m := uint64(i%sub + sub)
	return m << uint(e)
}

// upper is the largest value that falls in bucket i.
func upper(i int) uint64 {
	if i+1 >= buckets {
		return math.MaxUint64
	}
	return lower(i+1) - 1
}

// Record adds one duration; negative ones count as zero (a receive stamped
// before its schedule can only be clock noise).
func (h *H) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[index(uint64(d))].Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// Count is the number of recorded values.
func (h *H) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// Max is the largest recorded value, exactly.
func (h *H) Max() time.Duration { return time.Duration(h.max.Load()) }

// Quantile returns the value at quantile q (0..1): the midpoint of the
// bucket holding it, clamped to the exact maximum.
func (h *H) Quantile(q float64) time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			mid := lower(i) + (upper(i)-lower(i))/2
			return min(time.Duration(mid), h.Max())
		}
	}
	return h.Max()
}

// Mean is the average of the bucket midpoints, weighted by their counts.
func (h *H) Mean() time.Duration {
	var n, sum float64
	for i := range h.counts {
		c := float64(h.counts[i].Load())
		if c == 0 {
			continue
		}
		n += c
		sum += c * (float64(lower(i)) + float64(upper(i)-lower(i))/2)
	}
	if n == 0 {
		return 0
	}
	return time.Duration(sum / n)
}

// Merge adds o's counts into h.
func (h *H) Merge(o *H) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	for {
		m, om := h.max.Load(), o.max.Load()
		if om <= m || h.max.CompareAndSwap(m, om) {
			return
		}
	}
}

// Reset zeroes the histogram. It must not race with Record.
func (h *H) Reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.max.Store(0)
}

// Sparse is the histogram as it travels between processes: bucket index to
// count, only the non-empty ones, plus the exact maximum.
type Sparse struct {
	Counts map[int]uint64 `json:"counts"`
	MaxNS  int64          `json:"max_ns"`
}

// Export returns the non-empty buckets.
func (h *H) Export() Sparse {
	s := Sparse{Counts: map[int]uint64{}, MaxNS: h.max.Load()}
	for i := range h.counts {
		if c := h.counts[i].Load(); c != 0 {
			s.Counts[i] = c
		}
	}
	return s
}

// Import returns a histogram holding s.
func Import(s Sparse) *H {
	h := &H{}
	for i, c := range s.Counts {
		if i >= 0 && i < buckets {
			h.counts[i].Add(c)
		}
	}
	h.max.Store(s.MaxNS)
	return h
}

// Summary is the handful of figures the reports quote.
type Summary struct {
	Count uint64  `json:"count"`
	MeanM float64 `json:"mean_ms"`
	P50M  float64 `json:"p50_ms"`
	P90M  float64 `json:"p90_ms"`
	P99M  float64 `json:"p99_ms"`
	P999M float64 `json:"p999_ms"`
	MaxM  float64 `json:"max_ms"`
}

// Summarize computes the quoted figures in milliseconds.
func (h *H) Summarize() Summary {
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return Summary{
		Count: h.Count(), MeanM: ms(h.Mean()),
		P50M: ms(h.Quantile(0.50)), P90M: ms(h.Quantile(0.90)), P99M: ms(h.Quantile(0.99)),
		P999M: ms(h.Quantile(0.999)), MaxM: ms(h.Max()),
	}
}
