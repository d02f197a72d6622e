// Package testkit is what the tests of several packages share: loopback
// ports for servers and child processes, and polling with a deadline. Only
// tests (and test-support packages such as apptest) import it.
package testkit

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	portsMu sync.Mutex
	given   = map[int]bool{}
)

// FreePort returns a loopback port nothing listens on now, that this
// process has not handed out before, and that the kernel gives to no one
// else: it is taken from below the ephemeral range
// (net.ipv4.ip_local_port_range), where every bind(:0) and every outgoing
// connection on the box gets its port. A port found with bind(:0) and
// closed again, as before, went back to that pool until the child told to
// use it bound it, and the kernel gives a port just closed to the next
// bind(:0) quite often (about one in eight over 2000 binds): a relay failed
// with "bind: address already in use" while other packages and the browser
// tests ran (relay/cmd/kefu TestMetricsNotPublic), and two processes of one
// test were once told the same port. Here another process would have to
// pick the same port at random in the same moment.
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	lo, hi := portRange()
	for range 1000 {
		port := lo + rand.IntN(hi-lo)
		if given[port] {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // in use
		}
		ln.Close()
		given[port] = true
		return port
	}
	t.Fatalf("testkit: no free port in [%d, %d) in 1000 tries", lo, hi)
	return 0
}

// portRange is where FreePort picks: the 10 000 ports below the ephemeral
// range (20000-29999 with Linux's default 32768-60999), clear of the
// privileged ports and of the 3xxxx ports people start services on by hand.
func portRange() (lo, hi int) {
	hi = 30000
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if low, err := strconv.Atoi(f[0]); err == nil && low < hi+1000 {
				hi = max(low-1000, 11024)
			}
		}
	}
	return hi - 10000, hi
}

// FreeAddr is FreePort as "127.0.0.1:PORT".
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}

// Eventually polls cond every 20 ms until it holds, and fails the test
// with what if it does not within the deadline. Deadlines are generous: a
// shared two-core box stretches every wait.
func Eventually(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
