package testkit

import (
	"net"
	"runtime"
	"testing"
	"time"
)

// Ports are never handed out twice, even though the kernel offers a port
// just closed again, and each is free to listen on.
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 500 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
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
