package boltdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// BenchmarkAppendLayout measures durable appends (what an ack waits for)
// through the whole Store — writer, group commit, fsync, and for the log
// layouts all their moves into the per-conversation tree, the last ones
// made at the end and counted — with the message log and without it (the
// layout before issue 16). Each iteration runs every layout once, in
// turn, on a copy of the same file (1000 conversations that hold 20
// messages each), 20 000 messages of 200 bytes from 8 or 512 concurrent
// writers; the figures add up over iterations, so the layouts compared saw
// the same neighbours. docs/benchmarks.md has the ratios.
//
//	go test ./relay/internal/store/boltdb -run '^$' -bench AppendLayout -benchtime 3x
func BenchmarkAppendLayout(b *testing.B) {
	const convs, msgs = 1000, 20000
	layouts := []struct {
		name string
		opts Options
	}{
		{"nolog", Options{NoLog: true}},
		{"log", Options{}},
		{"log32k", Options{LogCompactAt: 32768}},
	}
	template := b.TempDir()
	ids := prefill(b, template, convs)
	seed, err := os.ReadFile(filepath.Join(template, FileName))
	if err != nil {
		b.Fatal(err)
	}
	for _, writers := range []int{8, 512} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			type total struct {
				took, cpu, moveTime time.Duration
				moveMax             time.Duration
				pages, commits      int64
				grown               int64 // the file's growth in bytes
			}
			totals := make([]total, len(layouts))
			for b.Loop() {
				for li, l := range layouts {
					dir := b.TempDir()
					if err := os.WriteFile(filepath.Join(dir, FileName), seed, 0o600); err != nil {
						b.Fatal(err)
					}
					t := &totals[li]
					opts := l.opts
					opts.OnCommit = func(int, time.Duration, error) { t.commits++ }
					opts.OnLogCompact = func(_, _ int, took time.Duration) { t.moveTime += took; t.moveMax = max(t.moveMax, took) }
					took, cpu, pages := appendRun(b, dir, opts, ids, writers, msgs)
					if fi, err := os.Stat(filepath.Join(dir, FileName)); err == nil {
						t.grown += fi.Size() - int64(len(seed))
					}
					t.took += took
					t.cpu += cpu
					t.pages += pages
				}
			}
			n := float64(b.N * msgs)
			for li, l := range layouts {
				t := totals[li]
				b.ReportMetric(n/t.took.Seconds(), l.name+"-msgs/s")
				b.ReportMetric(float64(t.cpu.Milliseconds())*1000/n, l.name+"-cpu-ms/1k")
				b.ReportMetric(float64(t.pages)*1000/n, l.name+"-pages/1k")
				b.ReportMetric(n/float64(max(t.commits, 1)), l.name+"-msgs/commit")
				b.ReportMetric(float64(t.grown)/n, l.name+"-file-bytes/msg")
				if li > 0 {
					b.ReportMetric(totals[0].took.Seconds()/t.took.Seconds(), l.name+"-speedup")
					b.ReportMetric(float64(t.moveTime)/float64(t.took), l.name+"-move-share")
					b.ReportMetric(float64(t.moveMax.Microseconds())/1000, l.name+"-move-max-ms")
				}
			}
		})
	}
}

// appendRun opens the store in dir, appends msgs messages from writers
// goroutines, moves what is left in the log, and returns the time, the
// process's CPU time and bbolt's page writes (moves included).
func appendRun(b *testing.B, dir string, opts Options, ids []string, writers, msgs int) (time.Duration, time.Duration, int64) {
	s, err := Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	text := strings.Repeat("m", 200)
	io0 := s.IOStats()
	cpu0 := cpuTime()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(msgs) {
					return
				}
				if _, err := s.Append(context.Background(), ids[int(i)%len(ids)], store.NewMessage{From: "visitor", Text: text}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// The log's layout owes the moves of what is still in it, and the
	// deletion of what was moved: they count.
	for s.log.size() > 0 {
		if err := s.submit(context.Background(), &op{exclusive: s.compactLog, done: make(chan error, 1)}); err != nil {
			b.Fatal(err)
		}
	}
	took := time.Since(start)
	cpu := cpuTime() - cpu0
	return took, cpu, s.IOStats().Writes - io0.Writes
}

// prefill writes convs conversations of 20 messages each in the messages
// tree and returns their ids.
func prefill(b *testing.B, dir string, convs int) []string {
	s, err := Open(dir, Options{NoLog: true})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, convs)
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < convs; i += 64 {
				_, c, err := s.CreateVisitor(context.Background(), []byte(store.NewID()+store.NewID()), "")
				if err != nil {
					b.Error(err)
					return
				}
				ids[i] = c.ID
				for j := range 10 {
					if _, err := s.Append(context.Background(), c.ID, store.NewMessage{ClientID: fmt.Sprint(j), From: "visitor", Text: fmt.Sprintf("question %d about order %d", j, i)},
						store.NewMessage{From: "bot", Text: "Orders ship within two working days; you get a tracking link by email."}); err != nil {
						b.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	return ids
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
