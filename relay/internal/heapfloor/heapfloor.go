// Package heapfloor keeps the Go garbage collector from collecting a small
// heap as often as GOGC alone would. With GOGC's 100 % the collector runs
// each time as much has been allocated as is live; a relay with few
// visitors has a live heap of 10–30 MB, and a burst of answers starting
// together (each allocates its question's commit, its history and its
// request) ran a cycle in the middle of the burst, whose mark phase took
// one of the box's two processors for 10–20 ms while the first chunks of
// those answers waited. Keeping the heap goal at least the floor spaces
// the cycles of a small relay out; a relay whose live heap is half the
// floor or more collects exactly as GOGC says. (Not free for a relay that
// grows fast past the floor: 19 500 sessions opened in 8 s ended ~1.4 KB
// a session higher with a 64 MiB floor, not with 32; docs/decisions.md.)
// GOMEMLIMIT still bounds the heap: the runtime collects earlier when the
// limit comes near, whatever GOGC is.
//
// The runtime has no minimum heap setting (its own is 4 MB), so the floor
// is kept by setting GOGC after each cycle from the live heap that cycle
// found: the percentage that puts the next goal at the floor.
package heapfloor

import (
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
)

// runtimeHeapMinimum is the runtime's own minimum heap goal at GOGC=100
// (defaultHeapMinimum, 4 MB); the runtime scales it with GOGC, so a
// percentage above floor ÷ 4 MB would put the goal above the floor.
const runtimeHeapMinimum = 4 << 20

// Percent is the GOGC that puts the next heap goal at floor for a heap of
// live bytes (the goal is live × (1 + GOGC/100)), never below base (the
// operator's GOGC) and never so high that the runtime's scaled minimum
// passes the floor.
func Percent(live, floor uint64, base int) int {
	if live == 0 || floor <= live*uint64(100+base)/100 {
		return base
	}
	p := int((floor - live) * 100 / live)
	limit := int(floor * 100 / runtimeHeapMinimum)
	return max(base, min(p, limit))
}

// Base is the GOGC the operator chose ($GOGC: a percentage, "off", or
// empty for Go's 100); ok is false when there is no percentage to raise
// (GOGC=off: the operator turned collection off, or bounds it with
// GOMEMLIMIT alone).
func Base(env string) (base int, ok bool, err error) {
	switch env = strings.TrimSpace(env); {
	case env == "":
		return 100, true, nil
	case strings.EqualFold(env, "off"):
		return 0, false, nil
	}
	n, err := strconv.Atoi(env)
	if err != nil {
		return 0, false, fmt.Errorf("heapfloor: GOGC=%q is neither a percentage nor off", env)
	}
	if n < 0 {
		return 0, false, nil // the runtime reads a negative GOGC as off
	}
	return n, true, nil
}

// tuner sets GOGC after every collection.
type tuner struct {
	floor uint64
	base  int
	log   *slog.Logger

	mu      sync.Mutex
	stopped bool
	cur     int
	sample  []metrics.Sample
}

// marker is allocated for one collection: its cleanup runs once a cycle
// found it unreachable. It holds a pointer so that it is not put in the
// tiny allocator's blocks, whose objects may never be collected alone.
type marker struct{ _ *byte }

// Start keeps the heap goal at least floor bytes until the returned stop
// is called, which puts GOGC back at base. base is what Base returned.
func Start(floor uint64, base int, log *slog.Logger) (stop func()) {
	t := &tuner{floor: floor, base: base, log: log, cur: base, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.arm()
	return t.stop
}

func (t *tuner) arm() {
	runtime.AddCleanup(&marker{}, func(t *tuner) { t.collected() }, t)
}

// collected runs after each cycle, on the runtime's cleanup goroutine:
// it reads the live heap the cycle marked and sets the next percentage.
func (t *tuner) collected() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	metrics.Read(t.sample)
	if v := t.sample[0].Value; v.Kind() == metrics.KindUint64 {
		if p := Percent(v.Uint64(), t.floor, t.base); worthSetting(p, t.cur, t.base) {
			debug.SetGCPercent(p)
			t.cur = p
			t.log.Debug("heapfloor: GOGC set", "gogc", p, "live_bytes", v.Uint64(), "floor_bytes", t.floor)
		}
	}
	t.arm()
}

// worthSetting reports whether GOGC should move from cur to p. Small
// moves are not worth a call into the runtime (it takes the heap lock):
// only one of more than a tenth, or back to base, which must be exact (a
// heap past the floor is paced by the operator's GOGC, not 10 % looser).
func worthSetting(p, cur, base int) bool {
	if p == cur {
		return false
	}
	return p == base || p*10 < cur*9 || p*10 > cur*11
}

func (t *tuner) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.stopped = true
	if t.cur != t.base {
		debug.SetGCPercent(t.base)
		t.cur = t.base
	}
}
