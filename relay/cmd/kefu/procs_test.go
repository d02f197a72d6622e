package main

import (
	"io"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestProcs(t *testing.T) {
	tests := []struct {
		current int
		env     string
		want    int
	}{
		{1, "", oneCPUProcs}, // one CPU: spare Ps
		{2, "", 2},           // Go's default stands
		{8, "", 8},
		{1, "1", 1}, // the operator's choice stands
		{2, "4", 2},
	}
	for _, tt := range tests {
		if got := procs(tt.current, tt.env); got != tt.want {
			t.Errorf("procs(%d, %q) = %d, want %d", tt.current, tt.env, got, tt.want)
		}
	}
}

// TestHeapFloor: the server's --heap-floor raises GOGC on this process's
// small heap and puts it back at stop; it never turns a collector the
// operator turned off (GOGC=off) back on, and 0 leaves GOGC alone.
func TestHeapFloor(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	read := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	for _, c := range []struct {
		floor  int
		gogc   string
		raised bool
	}{{32, "", true}, {64, "off", false}, {64, "-1", false}, {0, "", false}} {
		stop := setHeapFloor(c.floor, func(k string) string {
			if k == "GOGC" {
				return c.gogc
			}
			return ""
		}, log)
		// The tuner sets GOGC on its own goroutine after a collection:
		// collections, each given a moment to be acted on, until GOGC
		// moves (a raise is waited for up to 10 s, a wrong move for 5
		// collections).
		got := read()
		for i, deadline := 0, time.Now().Add(10*time.Second); got == 100 && time.Now().Before(deadline) && (c.raised || i < 5); i++ {
			runtime.GC()
			time.Sleep(5 * time.Millisecond)
			got = read()
		}
		stop()
		if (got > 100) != c.raised {
			t.Fatalf("floor %d, GOGC=%q: the process's GOGC became %d; want it raised: %v", c.floor, c.gogc, got, c.raised)
		}
		if after := read(); after != 100 {
			t.Fatalf("floor %d, GOGC=%q: after stop GOGC is %d, want 100 again", c.floor, c.gogc, after)
		}
	}
}
