package app_test

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/protocol"
)

// BenchmarkAnswer measures what one AI answer costs the relay around its
// streaming: the question stored and acked, the bot's decision, the
// request to the upstream, a short streamed answer and the answer stored.
// Each op is one new conversation's first question (visitors connect
// before the timer starts), 16 at a time. For a profile of an answer's
// start and end (the answers alone, not the visitors' connecting):
//
//	KEFU_ANSWER_CPUPROFILE=/tmp/answer.cpu go test ./relay/internal/app -run '^$' -bench Answer -benchtime 2000x
func BenchmarkAnswer(b *testing.B) {
	up := openaitest.New(b, openaitest.Options{Text: "Orders ship within one business day.", Words: true, MaxLog: -1})
	r := apptest.Start(b, func(c *config.Config) {
		c.OpenAIBaseURL, c.OpenAIAPIKey = up.BaseURL, "sk-test"
		c.DemoIntents = false
		c.AIMaxConcurrent, c.AIDailyTokens = 2000, 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	done := make([]chan struct{}, b.N)
	visitors := make([]*client.Client, b.N)
	for i := range b.N {
		done[i] = make(chan struct{})
		var once sync.Once
		v, err := client.Dial(ctx, client.Options{URL: r.WS, OnMessage: func(m protocol.Message) {
			if m.From == protocol.FromBot || m.From == protocol.FromSystem {
				once.Do(func() { close(done[i]) })
			}
		}})
		if err != nil {
			b.Fatal(err)
		}
		defer v.Close()
		visitors[i] = v
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	if path := os.Getenv("KEFU_ANSWER_CPUPROFILE"); path != "" {
		// The answers alone, without the visitors' connecting.
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	b.ResetTimer()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := next.Add(1) - 1; n < int64(b.N); n = next.Add(1) - 1 {
				if _, err := visitors[n].Send(ctx, fmt.Sprintf("Could you explain the two subscription plans (visitor %d)", n)); err != nil {
					b.Error(err)
					return
				}
				select {
				case <-done[n]:
				case <-ctx.Done():
					b.Error("no answer")
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(up.Conns()), "upstream-conns")
}
