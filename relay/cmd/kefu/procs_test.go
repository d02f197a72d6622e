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

// TestHeapFloorLeavesGOGCOff: --heap-floor never turns a collector the
// operator turned off (GOGC=off) back on, and 0 leaves GOGC alone.
func TestHeapFloorLeavesGOGCOff(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		floor int
		gogc  string
	}{{64, "off"}, {64, "-1"}, {0, ""}} {
		stop := setHeapFloor(c.floor, func(k string) string {
			if k == "GOGC" {
				return c.gogc
			}
			return ""
		}, log)
		// A tuner sets GOGC on its own goroutine after a collection:
		// several collections, each given a moment to be acted on.
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		for range 5 {
			runtime.GC()
			time.Sleep(5 * time.Millisecond)
			if metrics.Read(s); s[0].Value.Uint64() != 100 {
				break
			}
		}
		stop()
		if got := s[0].Value.Uint64(); got != 100 {
			t.Fatalf("floor %d, GOGC=%q: the process's GOGC became %d, want it left at 100", c.floor, c.gogc, got)
		}
	}
}
