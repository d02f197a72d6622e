package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kefuhq/kefu/bench/internal/hist"
	"github.com/kefuhq/kefu/bench/internal/proc"
)

// capacity fills one relay process with idle visitor sessions up to the
// file-descriptor ceiling and measures what each one costs, for Kefu and
// then the bare baseline on the same load.
func (b *bench) capacity(ctx context.Context) error {
	n, gens, idle := 19500, 2, 30*time.Second
	if b.cfg.Quick {
		n, gens, idle = 500, 1, time.Second
	}
	if b.cfg.CapSessions > 0 {
		n = b.cfg.CapSessions
	}
	if b.cfg.CapIdle > 0 {
		idle = b.cfg.CapIdle
	}
	// Two baselines: bare keeps its sessions in memory only; bare+bbolt
	// also stores one record per new session (the conversation) in a
	// bbolt group commit before its welcome, as Kefu stores the visitor
	// and the conversation (docs/decisions.md, issue 16).
	kinds := []string{kindKefu, kindBare, kindBareDurable}
	if b.cfg.Quick {
		kinds = kinds[:2]
	}
	for _, kind := range kinds {
		c, err := b.capacityOf(ctx, kind, n, gens, idle)
		if err != nil {
			return fmt.Errorf("capacity of %s: %w", kind, err)
		}
		b.res.Capacity = append(b.res.Capacity, c)
	}
	return nil
}

func (b *bench) capacityOf(ctx context.Context, kind string, n, ngen int, idle time.Duration) (Capacity, error) {
	c := Capacity{Server: kind, Wanted: n, Generators: ngen, IdleS: idle.Seconds()}
	var s *server
	var err error
	switch kind {
	case kindKefu:
		s, err = b.startKefu(ctx, "capacity-kefu", []string{"--demo=false"}, nil)
	case kindBareDurable:
		s, err = b.startBare(ctx, "capacity-bare-bbolt", true)
	default:
		s, err = b.startBare(ctx, "capacity-bare", false)
	}
	if err != nil {
		return c, err
	}
	defer s.stop()
	// Let the process settle before the baseline sample.
	sleep(ctx, time.Second)
	before, err := proc.Read(s.p.Pid())
	if err != nil {
		return c, err
	}
	cnt0, err := s.read(ctx)
	if err != nil {
		return c, err
	}
	ms0, err := b.memStats(ctx, s, false)
	if err != nil {
		return c, err
	}
	var jobs []Job
	for i := range ngen {
		share := n / ngen
		if i == ngen-1 {
			share = n - share*(ngen-1)
		}
		jobs = append(jobs, Job{Mode: "idle", URL: s.ws("/v1/ws"), N: share, Concurrency: 64})
	}
	start := time.Now()
	gs, ready, err := b.startGens(ctx, "capacity-"+kind, jobs, 3*time.Minute)
	if err != nil {
		return c, err
	}
	defer stopGens(gs)
	c.ConnectS = time.Since(start).Seconds()
	cs, err := decode[struct {
		Opened    int         `json:"opened"`
		Failed    int         `json:"failed"`
		FirstErr  string      `json:"first_error"`
		ElapsedMS float64     `json:"elapsed_ms"`
		LatencyH  hist.Sparse `json:"latency_hist"`
	}](ready)
	if err != nil {
		return c, err
	}
	lat := &hist.H{}
	slowest := 0.0
	for _, r := range cs {
		c.Opened += r.Opened
		c.Failed += r.Failed
		if c.FirstErr == "" {
			c.FirstErr = r.FirstErr
		}
		lat.Merge(hist.Import(r.LatencyH))
		slowest = max(slowest, r.ElapsedMS)
	}
	c.ConnectLatency = lat.Summarize()
	if slowest > 0 {
		c.ConnectPerS = float64(c.Opened) / (slowest / 1000)
	}
	b.log.Info("capacity: sessions open", "server", kind, "opened", c.Opened, "failed", c.Failed, "per_s", int(c.ConnectPerS))
	if ms1, err := b.memStats(ctx, s, false); err == nil && c.Opened > 0 {
		c.NumGC = int64(ms1["NumGC"] - ms0["NumGC"])
		c.AllocPerConn = (ms1["TotalAlloc"] - ms0["TotalAlloc"]) / float64(c.Opened)
	}

	// Idle with keepalives: three ping intervals (10 s) in the full run.
	if b.cfg.Quick {
		sleep(ctx, time.Second)
	} else {
		sleep(ctx, 2*time.Second)
	}
	p0, _ := broadcast(ctx, gs, Cmd{Op: "stats"}, 10*time.Second)
	a, err := proc.Read(s.p.Pid())
	if err != nil {
		return c, err
	}
	sleep(ctx, idle)
	z, err := proc.Read(s.p.Pid())
	if err != nil {
		return c, err
	}
	p1, err := broadcast(ctx, gs, Cmd{Op: "stats"}, 10*time.Second)
	if err != nil {
		return c, err
	}
	cnt1, err := s.read(ctx)
	if err != nil {
		return c, err
	}
	type idleStats struct {
		Open  int   `json:"open"`
		Pings int64 `json:"pings"`
	}
	st0, _ := decode[idleStats](p0)
	st1, err := decode[idleStats](p1)
	if err != nil {
		return c, err
	}
	for i := range st1 {
		c.StillOpen += st1[i].Open
		c.PingsInIdle += st1[i].Pings
		if i < len(st0) {
			c.PingsInIdle -= st0[i].Pings
		}
	}
	// The runtime's view before and after a forced GC (the GC comes
	// after every other reading).
	msz, err := b.memStats(ctx, s, false)
	if err != nil {
		return c, err
	}
	msgc, err := b.memStats(ctx, s, true)
	if err != nil {
		return c, err
	}
	c.RSSBefore, c.RSSAfter, c.RSSAnonAfter = before.RSS, z.RSS, z.RSSAnon
	c.OpenFDs = z.OpenFDs
	if c.Opened > 0 {
		c.RSSPerSession = float64(z.RSS-before.RSS) / float64(c.Opened)
		c.HeapPerSession = (cnt1.HeapInuse - cnt0.HeapInuse) / float64(c.Opened)
		c.StackPerSession = (cnt1.StackInuse - cnt0.StackInuse) / float64(c.Opened)
		c.AnonPerSession = float64(z.RSSAnon-before.RSSAnon) / float64(c.Opened)
		c.FilePerSession = float64(z.RSSFile-before.RSSFile) / float64(c.Opened)
		c.LivePerSession = (msgc["HeapAlloc"] - ms0["HeapAlloc"]) / float64(c.Opened)
		c.FreePerSession = (msz["HeapIdle"] - msz["HeapReleased"] - (ms0["HeapIdle"] - ms0["HeapReleased"])) / float64(c.Opened)
		c.GoroutinesPer = (cnt1.Goroutines - cnt0.Goroutines) / float64(c.Opened)
	}
	c.IdleCPU = proc.CPUShare(a, z)
	if err := b.profile(ctx, s, "heap", 0, "capacity-"+s.name[len("capacity-"):]+".heap.pprof"); err != nil {
		b.log.Warn("heap profile", "err", err)
	}
	return c, nil
}

// memStats reads runtime.MemStats from a server's pprof listener (the
// "# Name = value" lines of /debug/pprof/heap?debug=1), the same for Kefu
// and bare; gc forces a collection first.
func (b *bench) memStats(ctx context.Context, s *server, gc bool) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	url := "http://" + s.pprof + "/debug/pprof/heap?debug=1"
	if gc {
		url += "&gc=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("memstats: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("memstats of %s: %w", s.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("memstats of %s: %s", s.name, resp.Status)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "# "), " = ")
		if !ok || !strings.HasPrefix(sc.Text(), "# ") {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			m[k] = f
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("memstats of %s: %w", s.name, err)
	}
	if _, ok := m["HeapAlloc"]; !ok {
		return nil, fmt.Errorf("memstats of %s: no HeapAlloc in %s", s.name, url)
	}
	return m, nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}
