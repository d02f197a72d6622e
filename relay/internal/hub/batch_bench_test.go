package hub

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// BenchmarkFanout measures the socket path of a fan-out: frames published
// to conns connections (each read by a client in this process), with the
// frames that wait in a connection's queue written in one write(2)
// (batched, Accept) and one write(2) per frame (single, as before).
// "paced" publishes a frame and waits until every client has it, so no
// queue ever holds two: batching must cost nothing there; "burst"
// publishes as fast as Publish returns, and the queues fill as far as
// the writers fall behind. Reported per 1 000 frames delivered: the
// process's CPU (server and clients), and write(2) calls per frame.
//
//	go test ./relay/internal/hub -run '^$' -bench Fanout -benchtime 3x
func BenchmarkFanout(b *testing.B) {
	const conns = 64
	for _, shape := range []struct {
		name   string
		frames int
		paced  bool
	}{{"paced", 200, true}, {"burst", 1000, false}} {
		b.Run(shape.name, func(b *testing.B) {
			type total struct {
				cpu    time.Duration
				writes int64
			}
			var totals [2]total
			for b.Loop() {
				for v, batched := range []bool{false, true} {
					cpu, writes := fanoutRun(b, conns, shape.frames, shape.paced, batched)
					totals[v].cpu += cpu
					totals[v].writes += writes
				}
			}
			n := float64(b.N * conns * shape.frames)
			for v, name := range []string{"single", "batched"} {
				b.ReportMetric(float64(totals[v].cpu.Microseconds())/1000*1000/n, name+"-cpu-ms/1k")
				b.ReportMetric(float64(totals[v].writes)/n, name+"-writes/frame")
			}
			b.ReportMetric(float64(totals[1].cpu)/float64(totals[0].cpu), "cpu-ratio")
		})
	}
}

func fanoutRun(b *testing.B, conns, frames int, paced, batched bool) (time.Duration, int64) {
	h := New()
	opts := ConnOptions{Queue: 4096, WriteTimeout: 30 * time.Second, PingInterval: time.Hour, ReadLimit: 1 << 16}
	var mu sync.Mutex
	var outs []*batchConn // the sockets, batched or not: they count write(2) calls
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil, "bench", opts)
		if err != nil {
			b.Error(err)
			return
		}
		out := c.out
		if !batched {
			c.out = nil // one write(2) per frame; out still counts them
		}
		c.Start()
		h.Register(c)
		h.Subscribe("t", c)
		mu.Lock()
		outs = append(outs, out)
		mu.Unlock()
		for {
			if _, err := c.Read(context.Background()); err != nil {
				break
			}
		}
		h.Deregister(c)
		c.Close(websocket.StatusNormalClosure, "")
		c.Wait()
	}))
	defer srv.Close()
	var got sync.WaitGroup
	progress := make([]chan struct{}, conns)
	clients := make([]*websocket.Conn, conns)
	for i := range conns {
		cl, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = cl
		progress[i] = make(chan struct{}, frames)
		got.Add(1)
		go func() {
			defer got.Done()
			for range frames {
				if _, _, err := cl.Read(context.Background()); err != nil {
					b.Error(err)
					return
				}
				progress[i] <- struct{}{}
			}
		}()
	}
	for deadline := time.Now().Add(30 * time.Second); h.Subscribers("t") < conns; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("clients never subscribed")
		}
	}
	pad := strings.Repeat("x", 150)
	writes0 := int64(0)
	mu.Lock()
	for _, o := range outs {
		writes0 += o.Writes()
	}
	mu.Unlock()
	cpu0 := cpuTime()
	for i := range frames {
		h.Publish("t", NewFrame(map[string]any{"type": "message", "conversation_id": "c", "n": i, "text": pad}))
		if paced {
			for _, p := range progress {
				<-p
			}
		}
	}
	got.Wait()
	cpu := cpuTime() - cpu0
	writes := -writes0
	mu.Lock()
	for _, o := range outs {
		writes += o.Writes()
	}
	mu.Unlock()
	for _, cl := range clients {
		cl.Close(websocket.StatusNormalClosure, "")
	}
	if b.Failed() {
		b.FailNow()
	}
	return cpu, writes
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
