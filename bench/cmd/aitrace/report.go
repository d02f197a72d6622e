package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"

	"golang.org/x/exp/trace"
)

func ms(t trace.Time) float64 { return float64(t) / 1e6 }

// byValue is m's keys, the largest value first.
func byValue[V cmp.Ordered](m map[string]V) []string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	return keys
}

// running sums the goroutines' running time in [a, z) by root.
func (r *result) running(a, z trace.Time) map[string]trace.Time {
	out := map[string]trace.Time{}
	for _, s := range r.spans {
		if lo, hi := max(s.start, a), min(s.end, z); hi > lo {
			out[s.root] += hi - lo
		}
	}
	return out
}

// slowest is the slowest 1 % of the chunks (at least one).
func (r *result) slowest() []chunk {
	cs := slices.Clone(r.chunks)
	slices.SortFunc(cs, func(a, b chunk) int { return cmp.Compare(a.lag(), b.lag()) })
	return cs[len(cs)-max(1, len(cs)/100):]
}

// moment is a stretch of time with slow chunks less than 2 ms apart.
type moment struct {
	a, z trace.Time
	n    int
}

func moments(slow []chunk) []moment {
	slow = slices.Clone(slow)
	slices.SortFunc(slow, func(a, b chunk) int { return cmp.Compare(a.ready, b.ready) })
	var out []moment
	for _, c := range slow {
		if k := len(out) - 1; k >= 0 && c.ready-out[k].z < 2e6 {
			out[k].z = max(out[k].z, c.write)
			out[k].n++
			continue
		}
		out = append(out, moment{c.ready, c.write, 1})
	}
	slices.SortFunc(out, func(a, b moment) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.a, b.a)) })
	return out
}

// report writes what the trace says about the chunks' way through the
// relay, and, when window is set (ms from the trace's start), what ran
// and which system calls were made in it.
func report(w io.Writer, r *result, window [2]float64, top int) error {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	var gc trace.Time
	for _, g := range r.gcs {
		gc += g[1] - g[0]
	}
	p("trace %.1f ms: %d chunks through the relay, %d GC mark phases (%.1f ms)\n", ms(r.last-r.first), len(r.chunks), len(r.gcs), ms(gc))
	if len(r.chunks) == 0 {
		return fmt.Errorf("aitrace: no chunk found (are -stream, -read and -write right?)")
	}
	cs := slices.Clone(r.chunks)
	slices.SortFunc(cs, func(a, b chunk) int { return cmp.Compare(a.lag(), b.lag()) })
	p("in-relay lag (runnable from the network → the send's system call), and of it waiting for a processor:\n")
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		c := cs[int(q*float64(len(cs)-1))]
		p("  p%-5v %.3f ms (waiting %.3f ms)\n", q*100, ms(c.lag()), ms(c.sched()))
	}
	slow := r.slowest()
	var lag, sched trace.Time
	inGC := 0
	byIndex := map[string]int{}
	for _, c := range slow {
		lag += c.lag()
		sched += c.sched()
		if c.inGC {
			inGC++
		}
		lo := (c.index-1)/5*5 + 1
		byIndex[fmt.Sprintf("%d–%d", lo, lo+4)]++
	}
	p("slowest 1 %% (%d chunks): %.0f %% of their lag waiting for a processor, %d during a GC mark phase; by their index in the answer:", len(slow), 100*float64(sched)/float64(max(lag, 1)), inGC)
	for _, k := range byValue(byIndex) {
		p(" %s: %d", k, byIndex[k])
	}
	p("\nmoments of the slowest 1 %% (slow chunks less than 2 ms apart), the most chunks first, with what ran then:\n")
	for i, mo := range moments(slow) {
		if i == top {
			break
		}
		p("  at %.1f ms, %.2f ms long, %d chunks:", ms(mo.a-r.first), ms(mo.z-mo.a), mo.n)
		run := r.running(mo.a, mo.z)
		for j, k := range byValue(run) {
			if j == 5 {
				break
			}
			p(" %s %.2f ms;", k, ms(run[k]))
		}
		p("\n")
	}
	if window[1] <= window[0] {
		return nil
	}
	a, z := r.first+trace.Time(window[0]*1e6), r.first+trace.Time(window[1]*1e6)
	p("from %.0f to %.0f ms, running time by goroutine:\n", window[0], window[1])
	run := r.running(a, z)
	for j, k := range byValue(run) {
		if j == top {
			break
		}
		p("  %-60s %.2f ms\n", k, ms(run[k]))
	}
	p("system calls begun then, by caller (count, total, longest):\n")
	total, n, longest := map[string]trace.Time{}, map[string]int{}, map[string]trace.Time{}
	for _, s := range r.syscalls {
		if s.start >= a && s.start < z {
			total[s.what] += s.end - s.start
			n[s.what]++
			longest[s.what] = max(longest[s.what], s.end-s.start)
		}
	}
	for j, k := range byValue(total) {
		if j == top {
			break
		}
		p("  %-60s %5d %8.2f ms %7.3f ms\n", k, n[k], ms(total[k]), ms(longest[k]))
	}
	return nil
}
