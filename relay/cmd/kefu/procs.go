package main

import (
	"log/slog"
	"runtime"

	"github.com/kefuhq/kefu/relay/internal/heapfloor"
)

// oneCPUProcs is the GOMAXPROCS the relay takes on one CPU. Go gives a
// process one P per CPU it may use, and a goroutine the kernel holds (the
// store's fsync, a page of the database map read from disk) keeps its P
// until the runtime takes it back: with one CPU and one P, 100 streamed
// answers stopped for 20–100 ms at their start in most runs. Spare Ps let
// the other goroutines go on meanwhile; the kernel shares the core.
// Measured on one core (bench/notes.md, issue 13): relay-added p99 +21 to
// +97 ms with one P, +1.4 and +3.6 with two, +0.4 and +0.6 with three. With
// two CPUs or more Go's default stands: a third P on the two-core box did
// not move the figure beyond its noise.
const oneCPUProcs = 3

// procs is the GOMAXPROCS the relay runs with: current, or oneCPUProcs on
// one CPU, unless the operator chose one (env is $GOMAXPROCS).
func procs(current int, env string) int {
	if env != "" || current != 1 {
		return current
	}
	return oneCPUProcs
}

// setProcs applies procs and logs a change.
func setProcs(getenv func(string) string, log *slog.Logger) {
	cur := runtime.GOMAXPROCS(0)
	if n := procs(cur, getenv("GOMAXPROCS")); n != cur {
		runtime.GOMAXPROCS(n)
		log.Info("kefu: one CPU: more Go processors, so a goroutine blocked in the kernel does not stop the others (GOMAXPROCS overrides)", "gomaxprocs", n, "cpus", cur)
	}
}

// setHeapFloor keeps the heap goal at least floorMiB (--heap-floor) on top
// of the operator's GOGC, until the returned stop is called.
func setHeapFloor(floorMiB int, getenv func(string) string, log *slog.Logger) (stop func()) {
	if floorMiB <= 0 {
		return func() {}
	}
	base, ok, err := heapfloor.Base(getenv("GOGC"))
	if err != nil || !ok {
		// The runtime read the same GOGC: off, or a value it ignored.
		log.Info("kefu: --heap-floor not applied: GOGC turns the collector's pacing off or is not a percentage", "gogc", getenv("GOGC"))
		return func() {}
	}
	return heapfloor.Start(uint64(floorMiB)<<20, base, log)
}
