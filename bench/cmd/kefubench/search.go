package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Search is the conversation search scenario (issue 15): the index's
// build and its searches on a bbolt store of 10 000 conversations, against
// a full scan of the store (the baseline) in the same run, and whether
// both find the same conversations. It is relay/internal/search's
// BenchmarkStore, run with `go test` (the package is internal to the
// relay), which writes these fields.
type Search struct {
	Measured      time.Time    `json:"measured"`
	Commit        string       `json:"commit,omitempty"`
	Load          string       `json:"load,omitempty"`
	Conversations int          `json:"conversations"`
	Messages      int          `json:"messages"`
	Terms         int          `json:"terms"`
	SeedS         float64      `json:"seed_s"`
	BuildS        float64      `json:"build_s"`
	HeapBytes     int64        `json:"heap_bytes"`
	Queries       int          `json:"queries"`
	Kinds         []SearchKind `json:"kinds"`
	ScanRuns      int          `json:"scan_runs"`
	IndexP50MS    float64      `json:"index_p50_ms"`
	IndexP99MS    float64      `json:"index_p99_ms"`
	ServiceP50MS  float64      `json:"service_p50_ms"`
	ServiceP99MS  float64      `json:"service_p99_ms"`
	ScanP50MS     float64      `json:"scan_p50_ms"`
	ScanP99MS     float64      `json:"scan_p99_ms"`
	Mismatches    int          `json:"mismatches"`
	Checked       int          `json:"checked"`
	MeanHits      float64      `json:"mean_hits"`
}

// SearchKind is one kind of query of the mix.
type SearchKind struct {
	Name       string  `json:"name"`
	Example    string  `json:"example"`
	Count      int     `json:"count"`
	IndexP50MS float64 `json:"index_p50_ms"`
	IndexP99MS float64 `json:"index_p99_ms"`
	MeanHits   float64 `json:"mean_hits"`
}

// search runs the benchmark in its own process, bounded in time.
func (b *bench) search(ctx context.Context) error {
	out := filepath.Join(b.cfg.Work, "search.json")
	ctx, cancel := context.WithTimeout(ctx, 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^BenchmarkStore$", "-benchtime", "1x", "-timeout", "8m", "./relay/internal/search")
	cmd.Env = append(os.Environ(), "KEFU_SEARCH_BENCH="+out)
	if b.cfg.Quick {
		cmd.Env = append(cmd.Env, "KEFU_SEARCH_BENCH_QUICK=1")
	}
	var outb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outb, &outb
	b.res.Commands = append(b.res.Commands, "KEFU_SEARCH_BENCH=search.json "+strings.Join(cmd.Args, " "))
	err := cmd.Run()
	raw, rerr := os.ReadFile(out)
	if rerr == nil {
		s := Search{}
		if jerr := json.Unmarshal(raw, &s); jerr != nil {
			return fmt.Errorf("search: %w", jerr)
		}
		s.Measured = time.Now().UTC()
		s.Load = loadAvg()
		if c, cerr := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); cerr == nil {
			s.Commit = strings.TrimSpace(string(c))
		}
		b.res.Search = s
	}
	if err != nil {
		return fmt.Errorf("search: go test: %w\n%s", err, lastLines(outb.String(), 20))
	}
	return rerr
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (b *bench) mdSearch(m *strings.Builder) {
	s := b.res.Search
	if s.Conversations == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(m, format, a...) }
	p("## Conversation search (issue 15)\n\n")
	p("A bbolt store of **%d conversations** (%d messages: CLINC150's customer questions as the visitors' and the agents' or bot's turns, over a year, one in ten tagged, half handled by one of five agents), measured %s UTC on %s, load %s (`%s`). ",
		s.Conversations, s.Messages, s.Measured.Format("2006-01-02 15:04"), orDash(s.Commit), orDash(s.Load), "./bin/kefubench --scenarios search --merge")
	p("The **baseline** is a search without an index, in the same run: every conversation, its messages and tags read from the store and matched word by word.\n\n")
	p("| | p50 | p99 | p50 of the full scan ÷ p50 of this |\n|---|---|---|---|\n")
	p("| full scan of the store (baseline, %d queries) | %s | %s | 1× |\n", s.ScanRuns, ms(s.ScanP50MS), ms(s.ScanP99MS))
	p("| the index (`Index.Search`, %d queries × 5) | %s | %s | %s |\n", s.Queries, ms(s.IndexP50MS), ms(s.IndexP99MS), speedup(s.ScanP50MS, s.IndexP50MS))
	p("| what `GET /v1/agent/search` runs (`Service.Search`: the index, then the page of 20 read from the store) | %s | %s | %s |\n\n", ms(s.ServiceP50MS), ms(s.ServiceP99MS), speedup(s.ScanP50MS, s.ServiceP50MS))
	p("**Right conversations:** for %d queries (every kind, three rounds) the index found exactly the conversations the full scan found: %d differed.\n\n", s.Checked, s.Mismatches)
	p("**Index build** (what a relay does at start, in the background): %.2f s for the %d conversations, %d distinct terms, %.1f MB of heap (%.0f bytes per conversation).\n\n",
		s.BuildS, s.Conversations, s.Terms, float64(s.HeapBytes)/1e6, float64(s.HeapBytes)/float64(s.Conversations))
	p("| query kind | example | p50 | p99 | conversations found (mean) |\n|---|---|---|---|---|\n")
	for _, k := range s.Kinds {
		p("| %s | `%s` | %s | %s | %.1f |\n", k.Name, k.Example, ms(k.IndexP50MS), ms(k.IndexP99MS), k.MeanHits)
	}
	p("\n")
}

// speedup is how many times faster b is than a.
func speedup(a, b float64) string {
	if b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f×", a/b)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
