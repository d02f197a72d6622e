package boltdb

import (
	"context"
	"fmt"
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
// layout all its moves into the per-conversation tree, the last ones
// made at the end and counted — with the message log
// and without it (the layout before issue 16), in the same run: 1000
// conversations that already hold 20 messages each, 200-byte messages,
// 8 or 512 concurrent writers. docs/benchmarks.md has the ratios.
//
//	go test ./relay/internal/store/boltdb -run '^$' -bench AppendLayout -benchtime 20000x -count 3
func BenchmarkAppendLayout(b *testing.B) {
	const convs = 1000
	for _, writers := range []int{8, 512} {
		for _, layout := range []string{"nolog", "log"} {
			b.Run(fmt.Sprintf("writers=%d/%s", writers, layout), func(b *testing.B) {
				dir := b.TempDir()
				ids := prefill(b, dir, convs)
				var moved atomic.Int64
				var moveTime atomic.Int64
				var commits atomic.Int64
				s, err := Open(dir, Options{
					NoLog:        layout == "nolog",
					OnCommit:     func(int, time.Duration, error) { commits.Add(1) },
					OnLogCompact: func(n int, took time.Duration) { moved.Add(int64(n)); moveTime.Add(int64(took)) },
				})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				text := strings.Repeat("m", 200)
				io0 := s.IOStats()
				cpu0 := cpuTime()
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := next.Add(1)
							if i > int64(b.N) {
								return
							}
							if _, err := s.Append(context.Background(), ids[i%convs], store.NewMessage{From: "visitor", Text: text}); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				// The log's layout owes the moves of what is still in it:
				// they count.
				for s.log.len() > 0 {
					if err := s.submit(context.Background(), &op{exclusive: s.compactLog, done: make(chan error, 1)}); err != nil {
						b.Fatal(err)
					}
				}
				took := time.Since(start)
				b.StopTimer()
				cpu := cpuTime() - cpu0
				io := s.IOStats()
				b.ReportMetric(float64(b.N)/took.Seconds(), "msgs/s")
				b.ReportMetric(float64(cpu.Milliseconds())*1000/float64(b.N), "cpu-ms/1k")
				b.ReportMetric(float64(io.Writes-io0.Writes)*1000/float64(b.N), "pages/1k")
				b.ReportMetric(float64(b.N)/float64(max(commits.Load(), 1)), "msgs/commit")
				if layout == "log" {
					b.ReportMetric(float64(moved.Load()), "moved")
					b.ReportMetric(float64(moveTime.Load())/float64(took), "move-share")
				}
			})
		}
	}
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
