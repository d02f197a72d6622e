package testkit

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

// Ports are never handed out twice, each is free to listen on, and none
// is one the kernel hands to a bind(:0) or an outgoing connection.
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	lo, hi := portRange()
	for range 500 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		if p < lo || p >= hi || p < 1024 {
			t.Fatalf("port %d outside [%d, %d)", p, lo, hi)
		}
		seen[p] = true
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var eLo, eHi int
		if _, err := fmt.Sscan(string(b), &eLo, &eHi); err != nil {
			t.Fatalf("ip_local_port_range %q: %v", b, err)
		}
		if hi > eLo {
			t.Fatalf("FreePort's range [%d, %d) overlaps the ephemeral range %d-%d", lo, hi, eLo, eHi)
		}
	}
	// A port from bind(:0) is in the ephemeral range: the one FreePort avoids.
	ln0, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if p := ln0.Addr().(*net.TCPAddr).Port; p >= lo && p < hi {
		t.Fatalf("bind(:0) gave %d, inside FreePort's range [%d, %d)", p, lo, hi)
	}
	ln0.Close()
	ln, err := net.Listen("tcp", FreeAddr(t))
	if err != nil {
		t.Fatalf("a free address is not free: %v", err)
	}
	ln.Close()
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, "the third call", time.Minute, func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("cond called %d times, want 3", n)
	}
	ft := &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Eventually(ft, "never", 50*time.Millisecond, func() bool { return false })
	}()
	<-done
	if !ft.failed {
		t.Fatal("Eventually did not fail on a condition that never holds")
	}
}

// fakeT records Fatalf and ends the goroutine as the testing package does.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(string, ...any) {
	f.failed = true
	runtime.Goexit()
}
