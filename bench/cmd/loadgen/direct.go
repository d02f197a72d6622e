package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kefuhq/kefu/bench/internal/pick"
)

// direct reads the fake upstream's streams itself, with the same stamps,
// the same number of concurrent streams and the same questions as the run
// through the relay: what the relay adds is the difference.
type direct struct {
	job    Job
	log    *slog.Logger
	client *http.Client
	round  atomic.Int64
	nonce  string
}

func newDirect(job Job, log *slog.Logger) *direct {
	d := net.Dialer{Timeout: 10 * time.Second}
	if job.SrcIP != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(job.SrcIP)}
	}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: max(job.N, 2), DisableCompression: true}
	return &direct{job: job, log: log, client: &http.Client{Transport: tr}, nonce: rand.Text()[:10]}
}

func (m *direct) setup(ctx context.Context) (any, error) {
	return map[string]int{"streams": m.job.N}, nil
}

func (m *direct) handle(ctx context.Context, c Cmd) (any, error) {
	if c.Op != "go" {
		return nil, fmt.Errorf("aidirect: unknown op %q", c.Op)
	}
	m.round.Add(1)
	var st aiStats
	ctx, cancel := context.WithDeadline(ctx, time.Unix(0, c.StartNS).Add(time.Duration(c.DurMS)*time.Millisecond))
	defer cancel()
	start := time.Unix(0, c.StartNS)
	spread := time.Duration(c.SpreadMS) * time.Millisecond
	var wg sync.WaitGroup
	for i := range m.job.N {
		at := start.Add(spread * time.Duration(i) / time.Duration(max(m.job.N, 1)))
		select {
		case <-time.After(time.Until(at)):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		q := fmt.Sprintf("%s (visitor %d of generator %d, run %s)", m.job.Question, i, m.job.Proc, m.nonce)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.stream(ctx, q, &st); err != nil {
				st.errors.Add(1)
				m.log.Debug("stream", "err", err)
			}
		}()
	}
	wg.Wait()
	return aiResult{
		Streams: m.job.N, Completes: st.completes.Load(), Errors: st.errors.Load(), Chunks: st.chunks.Load(),
		Chunk: st.chunk.Export(), Mid: st.mid.Export(), First: st.first.Export(), TTFT: st.ttft.Export(),
		ElapsedMS: float64(time.Since(start)) / 1e6,
	}, nil
}

// stream posts one streaming chat completion and reads its SSE events.
func (m *direct) stream(ctx context.Context, q string, st *aiStats) error {
	body := fmt.Sprintf(`{"model":"bench","stream":true,"messages":[{"role":"user","content":%q}]}`, q)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(m.job.URL, "/")+"/chat/completions", strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("aidirect: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-bench")
	sent := time.Now()
	resp, err := m.client.Do(req)
	if err != nil {
		return fmt.Errorf("aidirect: post: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("aidirect: %s", resp.Status)
	}
	br := bufio.NewReader(resp.Body)
	first := true
	var chunks pick.Chunks // a chunk's lag: until its whole text is read
	var lags []int64
	whole := func(sentNS, at int64) {
		st.chunks.Add(1)
		st.chunk.Record(time.Duration(at - sentNS))
		lags = append(lags, at-sentNS)
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("aidirect: read: %w", err)
		}
		if !bytes.HasPrefix(line, []byte("data: ")) {
			continue
		}
		now := time.Now().UnixNano()
		if bytes.HasPrefix(line, []byte("data: [DONE]")) {
			chunks.Finish(whole)
			recordMid(&st.mid, lags)
			st.completes.Add(1)
			return nil
		}
		chunks.Add(pick.Str(line, "content"), now, whole)
		pick.Stamps(line, func(ns int64) {
			if first {
				first = false
				st.first.Record(time.Duration(now - ns))
				st.ttft.Record(time.Duration(now - sent.UnixNano()))
			}
		})
	}
}

func (m *direct) close() {}
