package auth

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loginFrom posts a login as if from addr (the fixture trusts no proxy, so
// the recorder's RemoteAddr is the address).
func (f *fixture) loginFrom(addr, user, pass string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "http://relay.test/v1/auth/login", strings.NewReader(`{"username":"`+user+`","password":"`+pass+`"}`))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = net.JoinHostPort(addr, "40000")
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	return w
}

func retryAfter(t *testing.T, w *httptest.ResponseRecorder) int {
	t.Helper()
	if w.Code != 429 {
		t.Fatalf("want 429, got %d %s", w.Code, w.Body)
	}
	s, err := strconv.Atoi(w.Header().Get("Retry-After"))
	if err != nil {
		t.Fatalf("Retry-After %q", w.Header().Get("Retry-After"))
	}
	return s
}

func TestThrottleSlowsWithProgressiveDelays(t *testing.T) {
	f := newFixture(t)
	f.svc.Bootstrap(context.Background(), "admin-password-1")
	const attacker, owner = "203.0.113.7", "198.51.100.20"
	for i := range pairFree {
		if w := f.loginFrom(attacker, "admin", "guess-guess-guess"); w.Code != 401 {
			t.Fatalf("guess %d: %d", i+1, w.Code)
		}
	}
	// Refused before the password is looked at: even the right one.
	w := f.loginFrom(attacker, "admin", "admin-password-1")
	if got := retryAfter(t, w); got != int(firstDelay/time.Second) {
		t.Errorf("first delay %ds, want %s", got, firstDelay)
	}
	if !strings.Contains(w.Body.String(), "Try again in 15 seconds") {
		t.Errorf("throttle message %s", w.Body)
	}
	// The owner on another address is not held up at all.
	if w := f.loginFrom(owner, "admin", "admin-password-1"); w.Code != 200 {
		t.Fatalf("owner from another address: %d %s", w.Code, w.Body)
	}
	// Each further failure doubles the wait, up to maxDelay (reached at
	// the sixth step).
	want := firstDelay
	for i := range 8 {
		f.clock.add(want)
		if w := f.loginFrom(attacker, "admin", "guess-guess-guess"); w.Code != 401 {
			t.Fatalf("guess after waiting %s: %d", want, w.Code)
		}
		want = min(2*want, maxDelay)
		if got := retryAfter(t, f.loginFrom(attacker, "admin", "guess-guess-guess")); got != int(want/time.Second) {
			t.Fatalf("step %d: Retry-After %ds, want %s", i, got, want)
		}
	}
	// Waiting it out, the right password signs in and the count starts over.
	f.clock.add(maxDelay)
	if w := f.loginFrom(attacker, "admin", "admin-password-1"); w.Code != 200 {
		t.Fatalf("right password after the wait: %d", w.Code)
	}
	for range pairFree {
		if w := f.loginFrom(attacker, "admin", "guess-guess-guess"); w.Code != 401 {
			t.Fatalf("after a success the count starts over: %d", w.Code)
		}
	}
	retryAfter(t, f.loginFrom(attacker, "admin", "guess-guess-guess"))
	// An hour of quiet forgets everything.
	f.clock.add(forgetAfter)
	if w := f.loginFrom(attacker, "admin", "guess-guess-guess"); w.Code != 401 {
		t.Errorf("after an hour of quiet: %d", w.Code)
	}
}

func TestThrottlePerAddressOverAllNames(t *testing.T) {
	f := newFixture(t)
	for i := range addrFree {
		if w := f.loginFrom("203.0.113.7", fmt.Sprintf("user%d", i), "guess-guess-guess"); w.Code != 401 {
			t.Fatalf("name %d: %d", i, w.Code)
		}
	}
	retryAfter(t, f.loginFrom("203.0.113.7", "yet-another-name", "guess-guess-guess"))
	// Another address of the same IPv6 /64 is the same subscriber...
	for i := range addrFree {
		if w := f.loginFrom(fmt.Sprintf("2001:db8:1:2::%x", i+1), fmt.Sprintf("v6user%d", i), "guess-guess-guess"); w.Code != 401 {
			t.Fatalf("v6 name %d: %d", i, w.Code)
		}
	}
	retryAfter(t, f.loginFrom("2001:db8:1:2:ffff::9", "a-third-name", "guess-guess-guess"))
	// ...and another address is not slowed.
	if w := f.loginFrom("198.51.100.20", "user0", "guess-guess-guess"); w.Code != 401 {
		t.Errorf("another address: %d", w.Code)
	}
}

func TestThrottleNameOnAlertStillLetsEachAddressTry(t *testing.T) {
	f := newFixture(t)
	f.svc.Bootstrap(context.Background(), "admin-password-1")
	// A guessing spread over many addresses puts the name on alert.
	for i := range alarmFailures {
		if w := f.loginFrom(fmt.Sprintf("10.0.%d.%d", i/200, i%200+1), "admin", "guess-guess-guess"); w.Code != 401 {
			t.Fatalf("address %d: %d", i, w.Code)
		}
	}
	// A new address now gets one free try at the name, not five.
	if w := f.loginFrom("10.9.9.9", "admin", "guess-guess-guess"); w.Code != 401 {
		t.Fatalf("first try of a new address: %d", w.Code)
	}
	retryAfter(t, f.loginFrom("10.9.9.9", "admin", "guess-guess-guess"))
	// The owner's first try from their address always counts.
	if w := f.loginFrom("198.51.100.20", "admin", "admin-password-1"); w.Code != 200 {
		t.Fatalf("owner while the name is on alert: %d %s", w.Code, w.Body)
	}
	// Other names are not on alert.
	for range pairFree {
		f.loginFrom("10.9.9.8", "someone", "guess-guess-guess")
	}
	if w := f.loginFrom("10.9.9.7", "someone", "guess-guess-guess"); w.Code != 401 {
		t.Errorf("a name not on alert: %d", w.Code)
	}
}

// countHashes wraps the service's verify with counters of calls and of the
// most running at once.
type hashCounter struct {
	calls, running, peak atomic.Int64
}

func countHashes(svc *Service) *hashCounter {
	c := &hashCounter{}
	verify := svc.verify
	svc.verify = func(hash, p string) bool {
		c.calls.Add(1)
		n := c.running.Add(1)
		for {
			old := c.peak.Load()
			if n <= old || c.peak.CompareAndSwap(old, n) {
				break
			}
		}
		defer c.running.Add(-1)
		return verify(hash, p)
	}
	return c
}

// serve runs the fixture's routes on a real socket of 127.0.0.1.
func (f *fixture) serve(t *testing.T) string {
	srv := httptest.NewServer(f.mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// clientFrom is an HTTP client whose connections leave from local, a
// loopback address of its own, so the relay sees a different address.
func clientFrom(t *testing.T, local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 256}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

func post(c *http.Client, url, user, pass string, hdr ...string) (int, string, error) {
	req, _ := http.NewRequest("POST", url+"/v1/auth/login", strings.NewReader(`{"username":"`+user+`","password":"`+pass+`"}`))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), nil
}

// parallel runs fn(i) for i in [0, n) at once, released together.
func parallel(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

func TestParallelGuessesGetNoMoreThanTheLimitThrough(t *testing.T) {
	f := newFixture(t)
	f.svc.Bootstrap(context.Background(), "admin-password-1")
	hashes := countHashes(f.svc)
	url := f.serve(t)
	c := clientFrom(t, "127.0.0.1")
	var mu sync.Mutex
	codes := map[int]int{}
	parallel(60, func(int) {
		code, body, err := post(c, url, "admin", "guess-guess-guess")
		if err != nil {
			t.Error(err)
		}
		if code == 429 && !strings.Contains(body, `"rate_limited"`) {
			t.Errorf("429 body %s", body)
		}
		mu.Lock()
		codes[code]++
		mu.Unlock()
	})
	if got := hashes.calls.Load(); got != pairFree {
		t.Errorf("60 parallel guesses ran %d password hashes, want %d (the limit)", got, pairFree)
	}
	if codes[401] != pairFree || codes[429] != 60-pairFree {
		t.Errorf("answers %v, want %d × 401 and the rest 429", codes, pairFree)
	}
}

func TestOwnerSignsInWhileAnAttackerHammersTheName(t *testing.T) {
	f := newFixture(t)
	f.svc.Bootstrap(context.Background(), "admin-password-1")
	url := f.serve(t)
	attacker, owner := clientFrom(t, "127.0.0.2"), clientFrom(t, "127.0.0.3")
	ctx, stop := context.WithCancel(context.Background())
	var throttled atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				code, _, err := post(attacker, url, "admin", "guess-guess-guess")
				if err != nil {
					t.Error(err)
					return
				}
				if code == 429 {
					throttled.Add(1)
				}
			}
		}()
	}
	defer func() { stop(); wg.Wait() }()
	waitUntil(t, "the attacker to be throttled", func() bool { return throttled.Load() >= 100 })
	for i := range 3 {
		if code, body, err := post(owner, url, "admin", "admin-password-1"); err != nil || code != 200 {
			t.Fatalf("owner's sign-in %d from another address while the attacker hammers: %d %s %v", i+1, code, body, err)
		}
	}
	// Even a typo from the owner's address costs them nothing lasting.
	if code, _, _ := post(owner, url, "admin", "typo-typo-typo"); code != 401 {
		t.Errorf("owner's typo: %d", code)
	}
	if code, _, _ := post(owner, url, "admin", "admin-password-1"); code != 200 {
		t.Errorf("owner after a typo: %d", code)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// memSampler records the peak of the Go heap's object bytes while running.
type memSampler struct {
	stop chan struct{}
	done chan uint64
}

func sampleHeap() *memSampler {
	m := &memSampler{stop: make(chan struct{}), done: make(chan uint64)}
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-m.stop:
				m.done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memSampler) peak() uint64 { close(m.stop); return <-m.done }

// resetPeakRSS clears the process's resident-set high-water mark (Linux);
// peakRSS reads it. Both report false where /proc cannot do it.
func resetPeakRSS() bool { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil }

func peakRSS() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// stormBound is the stated bound on what a login storm may add to the
// heap: every hash slot's 19 MiB, four times over (a hash's memory is
// garbage once it returns, and the collector runs only when the heap has
// grown by about as much as is live: measured 2.4 times), plus 32 MiB for
// 200 requests and their connections.
func stormBound(slots int) uint64 { return uint64(4*slots*argonBytes) + 32<<20 }

func TestLoginStormStaysWithinMemoryBound(t *testing.T) {
	for _, tt := range []struct {
		name string
		hdr  func(i int) []string
		user func(i int) string
	}{
		// One address: the throttle lets addrFree through, the gate runs
		// them a few at a time.
		{"one address", func(int) []string { return nil }, func(i int) string { return fmt.Sprintf("user%d", i) }},
		// 200 addresses (through a trusted proxy), all at the same name:
		// each address's first try passes the throttle, so only the gate
		// and its bounded queue stand between them and 200 hashes.
		{"200 addresses", func(i int) []string { return []string{"X-Forwarded-For", fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)} },
			func(int) string { return "admin" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.http.BehindProxy = true
			f.svc.Bootstrap(context.Background(), "admin-password-1")
			hashes := countHashes(f.svc)
			url := f.serve(t)
			c := clientFrom(t, "127.0.0.1")
			runtime.GC()
			base := sampleHeap()
			before := base.peak()
			rssReset := resetPeakRSS()
			rssBefore, _ := peakRSS()
			heap := sampleHeap()
			var mu sync.Mutex
			codes := map[int]int{}
			parallel(200, func(i int) {
				code, body, err := post(c, url, tt.user(i), "guess-guess-guess", tt.hdr(i)...)
				if err != nil {
					t.Error(err)
				}
				if code == 503 && !strings.Contains(body, "busy") {
					t.Errorf("503 body %s", body)
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			})
			peak := heap.peak()
			rss, rssOK := peakRSS()
			slots := f.svc.HashSlots()
			grew := peak - min(peak, before)
			t.Logf("200 parallel logins: answers %v; %d hashes, at most %d at once (%d slots); heap %d MiB before, peak %d MiB (+%d MiB; bound +%d MiB)",
				codes, hashes.calls.Load(), hashes.peak.Load(), slots, before>>20, peak>>20, grew>>20, stormBound(slots)>>20)
			if rssReset && rssOK {
				t.Logf("peak RSS during the storm %d MiB (%d MiB before)", rss>>20, rssBefore>>20)
			}
			if got := hashes.peak.Load(); got > int64(slots) {
				t.Errorf("%d hashes ran at once, want at most %d", got, slots)
			}
			if grew > stormBound(slots) {
				t.Errorf("the storm grew the heap by %d MiB, over the bound of %d MiB", grew>>20, stormBound(slots)>>20)
			}
			if codes[401]+codes[429]+codes[503] != 200 || codes[401] == 0 {
				t.Errorf("answers %v: want only 401, 429 and 503, some 401", codes)
			}
		})
	}
}

func TestBusyGateAnswers503WithRetryAfter(t *testing.T) {
	f := newFixture(t)
	f.svc.Bootstrap(context.Background(), "admin-password-1")
	// Hold every slot and fill the queue.
	release := make(chan struct{})
	var held sync.WaitGroup
	slots := f.svc.HashSlots()
	for range slots {
		held.Add(1)
		go f.svc.gate.run(context.Background(), func() { held.Done(); <-release })
	}
	held.Wait()
	queued := make(chan error, slots*hashWaitersPerSlot)
	for range slots * hashWaitersPerSlot {
		go func() { queued <- f.svc.gate.run(context.Background(), func() {}) }()
	}
	waitUntil(t, "the queue to fill", func() bool { return f.svc.gate.waiting.Load() == int64(slots*hashWaitersPerSlot) })
	w := f.loginFrom("198.51.100.20", "admin", "admin-password-1")
	if w.Code != 503 || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), "busy") {
		t.Errorf("login with the gate full: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	close(release)
	for range slots * hashWaitersPerSlot {
		if err := <-queued; err != nil {
			t.Errorf("a queued hash: %v", err)
		}
	}
	// The refused attempt was not counted: five tries are still free.
	for range pairFree - 1 {
		f.loginFrom("198.51.100.20", "admin", "guess-guess-guess")
	}
	if w := f.loginFrom("198.51.100.20", "admin", "admin-password-1"); w.Code != 200 {
		t.Errorf("after the busy answer, the fifth try: %d %s", w.Code, w.Body)
	}
}

func TestHashGateWaitIsBounded(t *testing.T) {
	g := newHashGate(argonBytes, 50*time.Millisecond) // one slot
	release := make(chan struct{})
	started := make(chan struct{})
	go g.run(context.Background(), func() { close(started); <-release })
	<-started
	if err := g.run(context.Background(), func() { t.Error("ran without a slot") }); err != ErrBusy {
		t.Errorf("wait past maxWait: %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.run(ctx, func() { t.Error("ran after cancel") }); err != context.Canceled {
		t.Errorf("cancelled wait: %v", err)
	}
	close(release)
}

func TestHashSlotsFormula(t *testing.T) {
	for _, tt := range []struct {
		budget int64
		want   int
	}{{0, 1}, {argonBytes - 1, 1}, {argonBytes, 1}, {DefaultHashMemory, 3}, {256 << 20, 13}} {
		if got := HashSlots(tt.budget); got != tt.want {
			t.Errorf("HashSlots(%d MiB) = %d, want %d", tt.budget>>20, got, tt.want)
		}
	}
}

func TestDummyHashHasTheCurrentParameters(t *testing.T) {
	h, _ := HashPassword("any-password-at-all")
	cut := func(s string) string { return s[:strings.LastIndex(s[:strings.LastIndex(s, "$")], "$")] }
	if cut(dummyHash) != cut(h) {
		t.Errorf("dummyHash parameters %s differ from HashPassword's %s: regenerate it", cut(dummyHash), cut(h))
	}
	if VerifyPassword(dummyHash, "any-password-at-all") {
		t.Error("dummy hash verified a guess")
	}
}

func TestThrottleTablesStayBounded(t *testing.T) {
	th := newThrottle()
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	for i := range maxKeys + 10 {
		r, _ := th.reserve(strings.Repeat("n", 5000)+strconv.Itoa(i), fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff), now)
		if r == nil {
			t.Fatalf("attempt %d refused", i)
		}
	}
	if len(th.pair) > maxKeys || len(th.addr) > maxKeys || len(th.name) != 1 {
		t.Errorf("tables %d pairs, %d addresses, %d names: want at most %d, and over-long names sharing one key", len(th.pair), len(th.addr), len(th.name), maxKeys)
	}
}
