package heapfloor

import (
	"io"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

const mib = 1 << 20

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		name        string
		live, floor uint64
		base, want  int
	}{
		{"small heap: goal at the floor", 16 * mib, 64 * mib, 100, 300},
		{"tiny heap: capped so the runtime's scaled 4 MB minimum stays at the floor", 1 * mib, 64 * mib, 100, 1600},
		{"half the floor: GOGC already reaches it", 32 * mib, 64 * mib, 100, 100},
		{"large heap: the operator's GOGC", 500 * mib, 64 * mib, 100, 100},
		{"operator's GOGC=50 on a small heap", 16 * mib, 64 * mib, 50, 300},
		{"operator's GOGC=400 reaches the floor", 16 * mib, 64 * mib, 400, 400},
		{"no live heap read: the operator's GOGC", 0, 64 * mib, 100, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Percent(c.live, c.floor, c.base); got != c.want {
				t.Fatalf("Percent(%d MiB, %d MiB, %d) = %d, want %d", c.live/mib, c.floor/mib, c.base, got, c.want)
			}
		})
	}
}

func TestWorthSetting(t *testing.T) {
	for _, c := range []struct {
		p, cur, base int
		want         bool
	}{
		{300, 300, 100, false},
		{310, 300, 100, false}, // within a tenth
		{340, 300, 100, true},
		{260, 300, 100, true},
		{100, 108, 100, true}, // back to the operator's GOGC, however close
		{105, 100, 100, false},
	} {
		if got := worthSetting(c.p, c.cur, c.base); got != c.want {
			t.Errorf("worthSetting(%d, %d, %d) = %v, want %v", c.p, c.cur, c.base, got, c.want)
		}
	}
}

func TestBase(t *testing.T) {
	for _, c := range []struct {
		env     string
		base    int
		ok, bad bool
	}{
		{"", 100, true, false},
		{"200", 200, true, false},
		{" 80 ", 80, true, false},
		{"off", 0, false, false},
		{"OFF", 0, false, false},
		{"-1", 0, false, false},
		{"lots", 0, false, true},
	} {
		base, ok, err := Base(c.env)
		if (err != nil) != c.bad || ok != c.ok || base != c.base {
			t.Errorf("Base(%q) = %d, %v, %v; want %d, %v, error %v", c.env, base, ok, err, c.base, c.ok, c.bad)
		}
	}
}

// TestStartKeepsGoalAtFloor runs the tuner on this test process, whose
// live heap is a few MB: after a collection the goal must be near the
// floor, and after stop GOGC must be the operator's again.
func TestStartKeepsGoalAtFloor(t *testing.T) {
	const floor = 64 * mib
	read := func() (gogc, goal uint64) {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/heap/goal:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64(), s[1].Value.Uint64()
	}
	if gogc, _ := read(); gogc != 100 {
		t.Skipf("GOGC is %d here; the test expects Go's default 100", gogc)
	}
	stop := Start(floor, 100, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		gogc, goal := read()
		if gogc > 100 && goal >= floor*9/10 && goal <= floor*11/10 {
			t.Logf("GOGC %d, heap goal %.1f MiB", gogc, float64(goal)/mib)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after collections for 10 s: GOGC %d, heap goal %.1f MiB; want a goal of about %d MiB", gogc, float64(goal)/mib, floor/mib)
		}
		time.Sleep(10 * time.Millisecond) // the cleanup runs on its own goroutine after the cycle
	}
	stop()
	runtime.GC()
	if gogc, _ := read(); gogc != 100 {
		t.Fatalf("after stop GOGC is %d, want the operator's 100", gogc)
	}
}
