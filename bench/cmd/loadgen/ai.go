package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kefuhq/kefu/bench/internal/hist"
	"github.com/kefuhq/kefu/bench/internal/pick"
)

// ai is the AI-streaming scenario through the relay: each visitor (a fresh
// conversation) asks a question no intent matches and no other visitor
// asks (so the answer cache cannot serve it), and the relay streams the
// fake upstream's answer back as delta frames. The fake stamps each chunk's
// send time into its text ([t=NS], --stamp-content), so the lag of every
// chunk is the time its whole text was received here minus that stamp
// (pick.Chunks).
type ai struct {
	job Job
	log *slog.Logger
	d   *dialer

	visitors []*session
	streams  []aiStream
	round    atomic.Int64
	nonce    string
}

// aiStream is one visitor's answer in the current round.
type aiStream struct {
	chunks  pick.Chunks // read by the stream's own reader only
	lags    []int64     // each whole chunk's lag (ns), the same
	sentNS  atomic.Int64
	gotAck  atomic.Bool
	first   atomic.Bool
	done    atomic.Bool
	handoff atomic.Bool
}

// midSkipFirst and midSkipLast: an answer's chunks but its first and its
// last few are also counted apart (chunk_lag_mid), to tell the lag of
// streaming from the lag around the answers' starts and ends: in a round
// every answer starts within the spread, so they also end together.
const (
	midSkipFirst = 5
	midSkipLast  = 8
)

// recordMid records lags but the first midSkipFirst and the last
// midSkipLast.
func recordMid(h *hist.H, lags []int64) {
	if len(lags) <= midSkipFirst+midSkipLast {
		return
	}
	for _, l := range lags[midSkipFirst : len(lags)-midSkipLast] {
		h.Record(time.Duration(l))
	}
}

type aiStats struct {
	chunk, mid, first, ttft, ack   hist.H
	chunks, completes, incompletes atomic.Int64
	handoffs, errors               atomic.Int64
}

// newAI returns the scenario; nonce makes every question of this process
// new to the relay's answer cache, which outlives a generator.
func newAI(job Job, log *slog.Logger) *ai {
	return &ai{job: job, log: log, d: newDialer(job), nonce: rand.Text()[:10]}
}

func (m *ai) setup(ctx context.Context) (any, error) {
	m.visitors = make([]*session, m.job.N)
	m.streams = make([]aiStream, m.job.N)
	st := openAll(ctx, m.job.N, m.job.Concurrency, func(ctx context.Context, i int) error {
		s, err := m.d.hello(ctx, "", "")
		if err != nil {
			return err
		}
		m.visitors[i] = s
		return nil
	})
	if st.Failed > 0 {
		return st, fmt.Errorf("ai: %d of %d visitors failed: %s", st.Failed, m.job.N, st.FirstErr)
	}
	return st, nil
}

type aiResult struct {
	Streams     int         `json:"streams"`
	Completes   int64       `json:"completes"`
	Incompletes int64       `json:"incompletes"`
	Handoffs    int64       `json:"handoffs"`
	Errors      int64       `json:"errors"`
	Chunks      int64       `json:"chunks"`
	Chunk       hist.Sparse `json:"chunk_lag"`
	Mid         hist.Sparse `json:"chunk_lag_mid"`
	First       hist.Sparse `json:"first_chunk_lag"`
	TTFT        hist.Sparse `json:"time_to_first_delta"`
	Ack         hist.Sparse `json:"ack"`
	ElapsedMS   float64     `json:"elapsed_ms"`
}

// handle runs the round ("go"): every visitor asks at StartNS (spread over
// SpreadMS) and the round ends when every answer is done or DurMS passed.
// Each visitor asks once: a second question in the same conversation would
// carry the first answer as context, so a job is good for one round.
func (m *ai) handle(ctx context.Context, c Cmd) (any, error) {
	if c.Op != "go" {
		return nil, fmt.Errorf("ai: unknown op %q", c.Op)
	}
	if m.round.Add(1) > 1 {
		return nil, fmt.Errorf("ai: one round per job")
	}
	st := &aiStats{}
	for i := range m.streams {
		m.streams[i] = aiStream{}
	}
	var wg sync.WaitGroup
	for i, v := range m.visitors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.read(v, &m.streams[i], st)
		}()
	}
	start := time.Unix(0, c.StartNS)
	spread := time.Duration(c.SpreadMS) * time.Millisecond
	for i, v := range m.visitors {
		at := start.Add(spread * time.Duration(i) / time.Duration(max(len(m.visitors), 1)))
		select {
		case <-time.After(time.Until(at)):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		// A question no intent matches, unique per visitor and round.
		q := fmt.Sprintf("%s (visitor %d of generator %d, run %s)", m.job.Question, i, m.job.Proc, m.nonce)
		m.streams[i].sentNS.Store(time.Now().UnixNano())
		if err := v.c.Write(fmt.Appendf(nil, `{"type":"message","id":"q.%d","text":%q}`, i, q)); err != nil {
			st.errors.Add(1)
			m.streams[i].done.Store(true)
		}
	}
	deadline := start.Add(time.Duration(c.DurMS) * time.Millisecond)
	for time.Now().Before(deadline) && !m.allDone() {
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	elapsed := time.Since(start)
	return aiResult{
		Streams: len(m.visitors), Completes: st.completes.Load(), Incompletes: st.incompletes.Load(),
		Handoffs: st.handoffs.Load(), Errors: st.errors.Load(), Chunks: st.chunks.Load(),
		Chunk: st.chunk.Export(), Mid: st.mid.Export(), First: st.first.Export(), TTFT: st.ttft.Export(), Ack: st.ack.Export(),
		ElapsedMS: float64(elapsed) / 1e6,
	}, nil
}

func (m *ai) allDone() bool {
	for i := range m.streams {
		if !m.streams[i].done.Load() {
			return false
		}
	}
	return true
}

// read handles one visitor's frames until its answer is done.
func (m *ai) read(v *session, s *aiStream, st *aiStats) {
	for !s.done.Load() {
		b, err := v.c.Read()
		if err != nil {
			st.errors.Add(1)
			s.done.Store(true)
			return
		}
		now := time.Now().UnixNano()
		switch string(pick.Type(b)) {
		case "ack":
			if !s.gotAck.Swap(true) {
				st.ack.Record(time.Duration(now - s.sentNS.Load()))
			}
		case "delta":
			whole := func(sentNS, at int64) {
				st.chunks.Add(1)
				st.chunk.Record(time.Duration(at - sentNS))
				s.lags = append(s.lags, at-sentNS)
			}
			if pick.Bool(b, "done") {
				s.chunks.Finish(whole)
				recordMid(&st.mid, s.lags)
				st.completes.Add(1)
				s.done.Store(true)
				continue
			}
			// A chunk's lag runs until its whole text arrived: a relay
			// that held its last word back would show here.
			s.chunks.Add(pick.Str(b, "text"), now, whole)
			pick.Stamps(pick.Str(b, "text"), func(ns int64) {
				if !s.first.Swap(true) {
					st.first.Record(time.Duration(now - ns))
					st.ttft.Record(time.Duration(now - s.sentNS.Load()))
				}
			})
		case "message":
			switch string(pick.Str(b, "from")) {
			case "bot":
				if pick.Bool(b, "incomplete") {
					st.incompletes.Add(1)
				}
			case "system":
				// The relay handed the conversation to people: the AI failed.
				st.handoffs.Add(1)
				s.done.Store(true)
			}
		case "error":
			st.errors.Add(1)
		}
	}
}

func (m *ai) close() {
	for _, v := range m.visitors {
		if v != nil {
			v.c.CloseNow()
		}
	}
}
