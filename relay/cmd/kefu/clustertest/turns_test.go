package clustertest

import (
	"flag"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// longestFirst is the order the cluster tests start in, longest first: go
// test releases parallel tests in no set order, and when the ten kill
// cycles of TestNodeLoss (about 150 s) started after two others, the
// package took 220 s instead of about 160 s.
var longestFirst = []string{"TestNodeLoss", "TestExternalNodeLoss", "TestSplit", "TestThroughTheLoadBalancer", "TestJoin"}

// turns lets the cluster tests run width at a time (the -parallel the
// package was given: the core count by default), starting them in
// longestFirst's order. go test's own limit is raised above the number of
// tests (setWidth) so that every test reaches its turn and waits there.
var turns = &queue{}

type queue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	width   int
	present []string // the tests this run selected (-run), in longestFirst order
	running int
}

// setWidth is called by TestMain once the flags are parsed: the package's
// -parallel becomes the queue's width, and go test's limit no longer holds
// any cluster test back.
func setWidth() {
	f := flag.Lookup("test.parallel")
	width, err := strconv.Atoi(f.Value.String())
	if err != nil || width < 1 {
		width = 1
	}
	turns.width = width
	turns.cond = sync.NewCond(&turns.mu)
	f.Value.Set(strconv.Itoa(len(longestFirst) + 1))
}

// take is a cluster test's first call instead of t.Parallel: it returns when
// the test's turn has come, and gives the turn back when the test ends.
func (q *queue) take(t *testing.T) {
	t.Helper()
	if !slices.Contains(longestFirst, t.Name()) {
		t.Fatalf("%s is not in longestFirst (turns_test.go): add it where its length puts it", t.Name())
	}
	// Every selected top-level test runs up to here before any parallel
	// test is released, so present is complete once t.Parallel returns.
	q.mu.Lock()
	q.present = append(q.present, t.Name())
	slices.SortFunc(q.present, func(a, b string) int { return slices.Index(longestFirst, a) - slices.Index(longestFirst, b) })
	q.mu.Unlock()
	t.Parallel()
	q.mu.Lock()
	for q.running >= q.width || q.present[0] != t.Name() {
		q.cond.Wait()
	}
	q.present = q.present[1:]
	q.running++
	q.cond.Broadcast()
	q.mu.Unlock()
	t.Cleanup(func() {
		q.mu.Lock()
		q.running--
		q.cond.Broadcast()
		q.mu.Unlock()
	})
}
