package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/kefuhq/kefu/bench/internal/prom"
)

// SoakSample is one step of the long run: what the relay held after it.
type SoakSample struct {
	AtS        float64 `json:"at_s"` // since the first step began
	Offered    float64 `json:"offered"`
	AckedPerS  float64 `json:"acked_per_s"`
	P99M       float64 `json:"deliver_p99_ms"`
	Missing    int64   `json:"missing"`
	RelayCPU   float64 `json:"relay_cpu"`
	RSS        int64   `json:"rss"`
	HeapInuse  float64 `json:"heap_inuse"`
	LogEntries float64 `json:"log_entries"` // after the last compaction step
	LogMoved   float64 `json:"log_moved"`   // messages moved so far
	Stored     float64 `json:"stored"`      // messages stored so far
	FileBytes  int64   `json:"file_bytes"`
	Load       string  `json:"load"`
}

// soak is the long run (issue 16; not in the default scenarios, nor in
// make bench's budget): Kefu alone under chat traffic at one rate for
// --soak-for, in steps of 30 s, recording after each step the relay's RSS
// and heap, the message log's length and what was moved, and the file's
// size — whether the log's moves keep up and memory stays flat. The table
// goes to OUT/soak.csv and results.json (soak).
func (b *bench) soak(ctx context.Context) error {
	p := b.chatParams()
	p.step, p.warm, p.drain = 30*time.Second, time.Second, 20*time.Second
	b.res.Chat = Chat{Convs: p.convs, PerAgent: p.perAgent, Generators: p.gens, StepS: p.step.Seconds(), WarmS: p.warm.Seconds(), TextBytes: 200}
	r, err := b.chatSetup(ctx, kindKefu, p)
	if err != nil {
		return err
	}
	defer r.close()
	f, err := os.Create(filepath.Join(b.cfg.Out, "soak.csv"))
	if err != nil {
		return err
	}
	defer f.Close()
	w := csv.NewWriter(f)
	w.Write([]string{"at_s", "offered", "acked_per_s", "deliver_p99_ms", "missing", "relay_cpu", "rss_mb", "heap_inuse_mb", "log_entries", "log_moved", "stored", "file_mb", "load"})
	start := time.Now()
	for step := 0; time.Since(start) < b.cfg.SoakFor; step++ {
		if ctx.Err() != nil {
			return fmt.Errorf("soak: out of time after %v: %w", time.Since(start).Round(time.Second), ctx.Err())
		}
		st, err := b.chatStep(ctx, r.s, r.gs, step, b.cfg.SoakRate, p, "step")
		if err != nil {
			return fmt.Errorf("soak step %d: %w", step, err)
		}
		sm := SoakSample{AtS: time.Since(start).Seconds(), Offered: st.Offered, AckedPerS: st.AckedPerS, P99M: st.Deliver.P99M,
			Missing: st.Missing + st.Errors, RelayCPU: st.RelayCPU, RSS: st.RSS, Load: st.Load}
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := prom.Scrape(sctx, "http://"+r.s.metrics+"/metrics")
		cancel()
		if err != nil {
			return fmt.Errorf("soak: metrics: %w", err)
		}
		sm.HeapInuse, sm.LogEntries, sm.LogMoved, sm.Stored = m.Get("go_memstats_heap_inuse_bytes"), m.Get("kefu_store_log_entries"), m.Get("kefu_store_log_moved_total"), m.Sum("kefu_messages_total")
		if fi, err := os.Stat(filepath.Join(r.s.data, "kefu.db")); err == nil {
			sm.FileBytes = fi.Size()
		}
		b.res.Soak = append(b.res.Soak, sm)
		mb := func(v float64) string { return strconv.FormatFloat(v/(1<<20), 'f', 1, 64) }
		w.Write([]string{strconv.FormatFloat(sm.AtS, 'f', 0, 64), strconv.FormatFloat(sm.Offered, 'f', 0, 64), strconv.FormatFloat(sm.AckedPerS, 'f', 0, 64),
			strconv.FormatFloat(sm.P99M, 'f', 2, 64), strconv.FormatInt(sm.Missing, 10), strconv.FormatFloat(sm.RelayCPU, 'f', 2, 64),
			mb(float64(sm.RSS)), mb(sm.HeapInuse), strconv.FormatFloat(sm.LogEntries, 'f', 0, 64), strconv.FormatFloat(sm.LogMoved, 'f', 0, 64),
			strconv.FormatFloat(sm.Stored, 'f', 0, 64), mb(float64(sm.FileBytes)), sm.Load})
		w.Flush()
		b.log.Info("soak step", "at_s", int(sm.AtS), "acked_per_s", int(sm.AckedPerS), "p99_ms", round2(sm.P99M), "missing", sm.Missing,
			"rss_mb", sm.RSS>>20, "log_entries", sm.LogEntries, "log_moved", sm.LogMoved, "stored", sm.Stored, "load", sm.Load)
	}
	return w.Error()
}
