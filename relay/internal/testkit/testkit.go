// Package testkit is what the tests of several packages share: loopback
// ports for servers and child processes, and polling with a deadline. Only
// tests (and test-support packages such as apptest) import it.
package testkit

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

var (
	portsMu sync.Mutex
	given   = map[int]bool{}
)

// FreePort returns a loopback port nothing listens on now and that this
// process has not handed out before. The kernel gives a port just closed
// to the next bind(:0) quite often (about one in eight over 2000 binds on
// Linux): without the second rule two processes of one test were told the
// same port (CI: a cluster node's HTTP address was its own NATS listener,
// "bind: address already in use").
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testkit: free port: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !given[port] {
			given[port] = true
			return port
		}
	}
	t.Fatal("testkit: every port the kernel offered in 1000 tries was handed out already")
	return 0
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
