package main

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// idle opens visitor sessions and keeps them open, answering the relay's
// pings: the capacity scenario.
type idle struct {
	job Job
	log *slog.Logger
	d   *dialer

	mu       sync.Mutex
	sessions []*session
	dropped  int
}

func newIdle(job Job, log *slog.Logger) *idle { return &idle{job: job, log: log, d: newDialer(job)} }

func (m *idle) setup(ctx context.Context) (any, error) {
	m.sessions = make([]*session, m.job.N)
	st := openAll(ctx, m.job.N, m.job.Concurrency, func(ctx context.Context, i int) error {
		s, err := m.d.hello(ctx, "", "")
		if err != nil {
			return err
		}
		m.mu.Lock()
		m.sessions[i] = s
		m.mu.Unlock()
		go m.read(s)
		return nil
	})
	return st, nil
}

// read drains the socket; Read answers pings by itself.
func (m *idle) read(s *session) {
	for {
		if _, err := s.c.Read(); err != nil {
			m.mu.Lock()
			m.dropped++
			m.mu.Unlock()
			return
		}
	}
}

type idleStats struct {
	Open    int   `json:"open"`
	Dropped int   `json:"dropped"`
	Pings   int64 `json:"pings"`
	AtNS    int64 `json:"at_ns"`
}

func (m *idle) handle(ctx context.Context, c Cmd) (any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := idleStats{Dropped: m.dropped, AtNS: time.Now().UnixNano()}
	for _, s := range m.sessions {
		if s != nil {
			st.Open++
			st.Pings += s.c.Pings()
		}
	}
	st.Open -= m.dropped
	return st, nil
}

func (m *idle) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.sessions {
		if s != nil {
			s.c.CloseNow()
		}
	}
}
