package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/kefuhq/kefu/bench/internal/hist"
	"github.com/kefuhq/kefu/bench/internal/pick"
	"github.com/kefuhq/kefu/bench/internal/wsraw"
)

// session is a visitor connection past its welcome.
type session struct {
	c     *wsraw.Conn
	token string
	conv  string
	seq   uint64
}

// dialer opens visitor sessions from one source address.
type dialer struct {
	job   Job
	laddr *net.TCPAddr
}

func newDialer(job Job) *dialer {
	d := &dialer{job: job}
	if job.SrcIP != "" {
		d.laddr = &net.TCPAddr{IP: net.ParseIP(job.SrcIP)}
	}
	return d
}

// hello opens a visitor socket and says hello (token "" for a new
// visitor), returning once the welcome arrived.
func (d *dialer) hello(ctx context.Context, token, conv string) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := wsraw.Dial(ctx, d.laddr, d.job.URL, originHeader(d.job.Origin, ""))
	if err != nil {
		return nil, err
	}
	hello := `{"type":"hello","last_seq":0}`
	if token != "" {
		hello = fmt.Sprintf(`{"type":"hello","token":%q,"conversation_id":%q,"last_seq":0}`, token, conv)
	}
	if err := c.Write([]byte(hello)); err != nil {
		c.CloseNow()
		return nil, fmt.Errorf("hello: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.CloseNow() })
	defer stop()
	for {
		b, err := c.Read()
		if err != nil {
			c.CloseNow()
			return nil, fmt.Errorf("waiting for welcome: %w", err)
		}
		switch string(pick.Type(b)) {
		case "welcome":
			s := &session{c: c, token: token, conv: string(pick.Str(b, "conversation_id"))}
			if t := pick.Str(b, "token"); t != nil {
				s.token = string(t)
			}
			s.seq, _ = pick.Uint(b, "seq")
			return s, nil
		case "error":
			c.CloseNow()
			return nil, fmt.Errorf("refused: %s", b)
		}
	}
}

func originHeader(origin, cookie string) http.Header {
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	if cookie != "" {
		h.Set("Cookie", cookie)
	}
	return h
}

// connectStats describes how a batch of sessions was opened.
type connectStats struct {
	Wanted    int          `json:"wanted"`
	Opened    int          `json:"opened"`
	Failed    int          `json:"failed"`
	FirstErr  string       `json:"first_error,omitempty"`
	ElapsedMS float64      `json:"elapsed_ms"`
	Latency   hist.Summary `json:"latency"`
	LatencyH  hist.Sparse  `json:"latency_hist"`
}

// openAll opens n sessions with at most conc dials in flight; open runs
// for each index and returns the session or an error.
func openAll(ctx context.Context, n, conc int, open func(ctx context.Context, i int) error) connectStats {
	st := connectStats{Wanted: n}
	var h hist.H
	var mu sync.Mutex
	idx := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range max(conc, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				t := time.Now()
				err := open(ctx, i)
				mu.Lock()
				if err != nil {
					st.Failed++
					if st.FirstErr == "" {
						st.FirstErr = err.Error()
					}
				} else {
					st.Opened++
					h.Record(time.Since(t))
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range n {
		select {
		case idx <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(idx)
	wg.Wait()
	st.ElapsedMS = float64(time.Since(start)) / 1e6
	st.Latency, st.LatencyH = h.Summarize(), h.Export()
	return st
}

var errStopped = errors.New("stopped")
