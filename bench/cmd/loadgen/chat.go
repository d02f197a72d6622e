package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kefuhq/kefu/bench/internal/hist"
	"github.com/kefuhq/kefu/bench/internal/pick"
	"github.com/kefuhq/kefu/bench/internal/sched"
	"github.com/kefuhq/kefu/bench/internal/wsraw"
)

// maxSteps bounds the steps of one run (ids carry the step number).
const maxSteps = 64

// chat is the chat-traffic scenario: visitors send messages on an open-loop
// schedule; a receiving side (agent sockets watching the conversations, or
// a second visitor socket per conversation) gets each one. Every message id
// carries its due time, so any process can measure from it.
type chat struct {
	job Job
	log *slog.Logger
	d   *dialer

	visitors  []*session
	receivers []*wsraw.Conn
	filler    []byte

	steps   [maxSteps]atomic.Pointer[stepStats]
	flood   atomic.Pointer[floodState]
	probed  []atomic.Bool
	nextID  atomic.Int64
	dropped atomic.Int64

	convFrames, otherFrames atomic.Int64
	foreign                 atomic.Int64 // messages of conversations another receiver owns
	rewatches               atomic.Int64 // watches sent again after rate_limited
	errMu                   sync.Mutex
	errCodes                map[string]int
}

// stepStats gathers one step. "M" counts only messages due after the
// step's warm-up, the ones the histograms hold.
type stepStats struct {
	measureFrom, measureTo        int64
	sent, sentM, sendErr          atomic.Int64
	acked, ackedM, ackedWin       atomic.Int64 // ackedWin: acks received inside the window
	delivered, deliveredM, errors atomic.Int64
	ack, deliver, lag             hist.H
}

type floodState struct {
	step  int
	until int64
}

func newChat(job Job, log *slog.Logger) *chat {
	if job.TextBytes <= 0 {
		job.TextBytes = 200
	}
	if job.Senders <= 0 {
		job.Senders = 4
	}
	if job.PerAgent <= 0 {
		job.PerAgent = 50
	}
	return &chat{job: job, log: log, d: newDialer(job), filler: bytes.Repeat([]byte("k"), job.TextBytes), errCodes: map[string]int{}}
}

type chatReady struct {
	Visitors  connectStats `json:"visitors"`
	Receivers connectStats `json:"receivers"`
	Receive   string       `json:"receive"`
	Probed    int          `json:"probed"`
	Rewatches int64        `json:"rewatches"` // watches refused as over the rate and sent again
}

func (m *chat) setup(ctx context.Context) (any, error) {
	r := chatReady{Receive: m.job.Receive}
	m.visitors = make([]*session, m.job.N)
	m.probed = make([]atomic.Bool, m.job.N)
	// Each visitor says hello and sends one first message (which, on Kefu
	// without intents or AI, hands the conversation to the human queue),
	// and waits for its ack before the reader goroutine takes over.
	r.Visitors = openAll(ctx, m.job.N, m.job.Concurrency, func(ctx context.Context, i int) error {
		s, err := m.d.hello(ctx, "", "")
		if err != nil {
			return err
		}
		if err := m.warm(ctx, s, i); err != nil {
			s.c.CloseNow()
			return err
		}
		m.visitors[i] = s
		go m.readVisitor(s)
		return nil
	})
	if r.Visitors.Failed > 0 {
		return r, fmt.Errorf("chat: %d of %d visitors failed: %s", r.Visitors.Failed, m.job.N, r.Visitors.FirstErr)
	}
	if m.job.Receive == "agent" {
		r.Receivers = m.openAgents(ctx)
	} else {
		m.receivers = make([]*wsraw.Conn, m.job.N)
		r.Receivers = openAll(ctx, m.job.N, m.job.Concurrency, func(ctx context.Context, i int) error {
			v := m.visitors[i]
			s, err := m.d.hello(ctx, v.token, v.conv)
			if err != nil {
				return err
			}
			m.receivers[i] = s.c
			go m.readReceiver(s.c, map[string]uint64{v.conv: v.seq})
			return nil
		})
	}
	if r.Receivers.Failed > 0 {
		return r, fmt.Errorf("chat: %d receivers failed: %s", r.Receivers.Failed, r.Receivers.FirstErr)
	}
	n, err := m.probe(ctx)
	r.Probed, r.Rewatches = n, m.rewatches.Load()
	return r, err
}

// warm sends the conversation's first message and waits for its ack.
func (m *chat) warm(ctx context.Context, s *session, i int) error {
	id := fmt.Sprintf("w.%d.%d", m.job.Proc, i)
	if err := s.c.Write(fmt.Appendf(nil, `{"type":"message","id":%q,"text":"hello, a question about my order"}`, id)); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { s.c.CloseNow() })
	defer stop()
	for {
		b, err := s.c.Read()
		if err != nil {
			return fmt.Errorf("warm-up ack: %w", err)
		}
		switch string(pick.Type(b)) {
		case "ack":
			s.seq, _ = pick.Uint(b, "seq")
			return nil
		case "error":
			return fmt.Errorf("warm-up refused: %s", b)
		}
	}
}

// openAgents opens one agent socket per PerAgent conversations and watches
// them from the seq the visitor last saw.
func (m *chat) openAgents(ctx context.Context) connectStats {
	n := (len(m.visitors) + m.job.PerAgent - 1) / m.job.PerAgent
	m.receivers = make([]*wsraw.Conn, n)
	return openAll(ctx, n, min(m.job.Concurrency, 16), func(ctx context.Context, a int) error {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		c, err := wsraw.Dial(ctx, m.d.laddr, m.job.AgentURL, originHeader(m.job.Origin, m.job.Cookie))
		if err != nil {
			return err
		}
		stop := context.AfterFunc(ctx, func() { c.CloseNow() })
		defer stop()
		if err := c.Write([]byte(`{"type":"hello"}`)); err != nil {
			return fmt.Errorf("agent hello: %w", err)
		}
		for {
			b, err := c.Read()
			if err != nil {
				return fmt.Errorf("agent welcome: %w", err)
			}
			t := string(pick.Type(b))
			if t == "error" {
				c.CloseNow()
				return fmt.Errorf("agent refused: %s", b)
			}
			if t == "welcome" {
				break
			}
		}
		// Away: the relay routes no queued conversation to this admin, so
		// its sockets see only what they watch (every console of an agent
		// watches the agent's assigned conversations).
		if err := c.Write([]byte(`{"type":"presence","status":"away"}`)); err != nil {
			return fmt.Errorf("agent presence: %w", err)
		}
		owned := map[string]uint64{}
		for i := a * m.job.PerAgent; i < min((a+1)*m.job.PerAgent, len(m.visitors)); i++ {
			owned[m.visitors[i].conv] = m.visitors[i].seq
		}
		m.receivers[a] = c
		// The reader runs before the watches go out: a watch refused as
		// over the console's rate comes back as an error frame, and the
		// reader asks again.
		go m.readReceiver(c, owned)
		n := 0
		for i := a * m.job.PerAgent; i < min((a+1)*m.job.PerAgent, len(m.visitors)); i++ {
			if n >= watchBurst {
				// A console may send watchBurst watches at once, then
				// watchRate a second (relay/internal/agent frameRates): a
				// script faster than that is refused (rate_limited).
				select {
				case <-time.After(time.Second / watchRate):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			n++
			v := m.visitors[i]
			if err := c.Write(watchFrame(v.conv, v.seq)); err != nil {
				return fmt.Errorf("watch: %w", err)
			}
		}
		return nil
	})
}

// watchBurst and watchRate stay under the agent console's limits on watch
// frames (a burst of 30, then 10 a second).
const (
	watchBurst = 25
	watchRate  = 8
)

func watchFrame(conv string, seq uint64) []byte {
	return fmt.Appendf(nil, `{"type":"watch","conversation_id":%q,"last_seq":%d}`, conv, seq)
}

// probe sends a message in every conversation until the receiving side has
// seen one, so that no step starts before every watch is live.
func (m *chat) probe(ctx context.Context) (int, error) {
	for round := 0; round < 20; round++ {
		missing := 0
		for i, v := range m.visitors {
			if m.probed[i].Load() {
				continue
			}
			missing++
			if err := v.c.Write(fmt.Appendf(nil, `{"type":"message","id":"p.%d.%d.%d","text":"probe"}`, m.job.Proc, i, round)); err != nil {
				return 0, fmt.Errorf("probe: %w", err)
			}
		}
		if missing == 0 {
			return len(m.visitors), nil
		}
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	n := 0
	for i := range m.probed {
		if m.probed[i].Load() {
			n++
		}
	}
	return n, fmt.Errorf("chat: only %d of %d conversations reached the receiving side", n, len(m.visitors))
}

// Ids: b.STEP.DUE_NS.PROC.N for measured messages.
func (m *chat) appendFrame(b []byte, step int, due int64, n int64) []byte {
	b = append(b, `{"type":"message","id":"b.`...)
	b = strconv.AppendInt(b, int64(step), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, due, 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(m.job.Proc), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, `","text":"`...)
	b = append(b, m.filler...)
	return append(b, `"}`...)
}

func parseID(id []byte) (step int, due int64, ok bool) {
	if len(id) < 4 || id[0] != 'b' || id[1] != '.' {
		return 0, 0, false
	}
	f := bytes.SplitN(id[2:], []byte("."), 3)
	if len(f) < 3 {
		return 0, 0, false
	}
	s, err1 := strconv.Atoi(string(f[0]))
	d, err2 := strconv.ParseInt(string(f[1]), 10, 64)
	if err1 != nil || err2 != nil || s < 0 || s >= maxSteps {
		return 0, 0, false
	}
	return s, d, true
}

func (m *chat) readVisitor(s *session) {
	var buf []byte
	for {
		b, err := s.c.Read()
		if err != nil {
			m.dropped.Add(1)
			return
		}
		switch string(pick.Type(b)) {
		case "ack":
			step, due, ok := parseID(pick.Str(b, "id"))
			if !ok {
				continue
			}
			st := m.steps[step].Load()
			if st == nil {
				continue
			}
			now := time.Now().UnixNano()
			st.acked.Add(1)
			if now >= st.measureFrom && now < st.measureTo {
				st.ackedWin.Add(1)
			}
			if due >= st.measureFrom {
				st.ackedM.Add(1)
				st.ack.Record(time.Duration(now - due))
			}
			if fl := m.flood.Load(); fl != nil && fl.step == step && now < fl.until {
				buf = m.appendFrame(buf[:0], step, now, m.nextID.Add(1))
				if s.c.Write(buf) == nil {
					st.sent.Add(1)
					if now >= st.measureFrom {
						st.sentM.Add(1)
					}
				}
			}
		case "error":
			m.errMu.Lock()
			m.errCodes[string(pick.Str(b, "code"))]++
			m.errMu.Unlock()
			if step, _, ok := parseID(pick.Str(b, "id")); ok {
				if st := m.steps[step].Load(); st != nil {
					st.errors.Add(1)
				}
			}
		}
	}
}

// readReceiver counts the messages of the conversations this socket owns;
// a copy of another's (an agent's consoles all watch the agent's assigned
// conversations) is counted apart, never twice.
//
// owned maps each conversation to the seq its watch starts after; a watch
// refused as over the rate (an agent console's limit) is sent again.
func (m *chat) readReceiver(c *wsraw.Conn, owned map[string]uint64) {
	for {
		b, err := c.Read()
		if err != nil {
			m.dropped.Add(1)
			return
		}
		switch string(pick.Type(b)) {
		case "message":
			if _, ok := owned[string(pick.Str(b, "conversation_id"))]; !ok {
				m.foreign.Add(1)
				continue
			}
			id := pick.Str(b, "id")
			if step, due, ok := parseID(id); ok {
				if st := m.steps[step].Load(); st != nil {
					st.delivered.Add(1)
					if due >= st.measureFrom {
						st.deliveredM.Add(1)
						st.deliver.Record(time.Since(time.Unix(0, due)))
					}
				}
			} else if bytes.HasPrefix(id, []byte("p.")) {
				f := bytes.Split(id, []byte("."))
				if i, err := strconv.Atoi(string(f[2])); err == nil && i < len(m.probed) {
					m.probed[i].Store(true)
				}
			}
		case "conversation", "inbox":
			m.convFrames.Add(1)
		case "error":
			conv := string(pick.Str(b, "conversation_id"))
			seq, watched := owned[conv]
			if watched && string(pick.Str(b, "action")) == "watch" && string(pick.Str(b, "code")) == "rate_limited" {
				m.rewatches.Add(1)
				time.AfterFunc(time.Second/watchRate, func() { c.Write(watchFrame(conv, seq)) })
				continue
			}
			m.otherFrames.Add(1)
		default:
			m.otherFrames.Add(1)
		}
	}
}

// stepResult is one step (or flood) of one process.
type stepResult struct {
	Step        int            `json:"step"`
	Rate        float64        `json:"rate"`
	MeasureS    float64        `json:"measure_s"`
	DrainS      float64        `json:"drain_s"` // from the end of sending until all was acked and delivered
	Sent        int64          `json:"sent"`
	SentM       int64          `json:"sent_m"`
	SendErrors  int64          `json:"send_errors"`
	Acked       int64          `json:"acked"`
	AckedM      int64          `json:"acked_m"`
	AckedWin    int64          `json:"acked_in_window"`
	Delivered   int64          `json:"delivered"`
	DeliveredM  int64          `json:"delivered_m"`
	Errors      int64          `json:"errors"`
	ErrCodes    map[string]int `json:"error_codes,omitempty"`
	Ack         hist.Sparse    `json:"ack"`
	Deliver     hist.Sparse    `json:"deliver"`
	Lag         hist.Sparse    `json:"send_lag"`
	ConvFrames  int64          `json:"conversation_frames"`
	OtherFrames int64          `json:"other_frames"`
	Foreign     int64          `json:"foreign_messages"`
	Dropped     int64          `json:"dropped"`
}

func (m *chat) handle(ctx context.Context, c Cmd) (any, error) {
	if c.Step < 0 || c.Step >= maxSteps {
		return nil, fmt.Errorf("chat: step %d out of range", c.Step)
	}
	start := time.Unix(0, c.StartNS)
	dur := time.Duration(c.DurMS) * time.Millisecond
	st := &stepStats{measureFrom: c.StartNS + int64(c.WarmMS)*int64(time.Millisecond), measureTo: start.Add(dur).UnixNano()}
	m.steps[c.Step].Store(st)
	conv0, other0, foreign0 := m.convFrames.Load(), m.otherFrames.Load(), m.foreign.Load()
	switch c.Op {
	case "step":
		m.runSchedule(ctx, c.Step, st, sched.Plan{Start: start, Rate: c.Rate, For: dur})
	case "flood":
		m.runFlood(ctx, c, st, start, dur)
	default:
		return nil, fmt.Errorf("chat: unknown op %q", c.Op)
	}
	// Drain: wait for every ack and delivery still on its way, so the next
	// step starts on an idle relay (an overloaded step leaves a backlog).
	end := start.Add(dur)
	deadline := end.Add(time.Duration(c.DrainMS) * time.Millisecond)
	for time.Now().Before(deadline) && (st.acked.Load() < st.sent.Load() || st.delivered.Load() < st.sent.Load()) {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	drained := time.Since(end)
	m.errMu.Lock()
	codes := m.errCodes
	m.errCodes = map[string]int{}
	m.errMu.Unlock()
	return stepResult{
		DrainS: drained.Seconds(), Step: c.Step, Rate: c.Rate, MeasureS: (dur - time.Duration(c.WarmMS)*time.Millisecond).Seconds(),
		Sent: st.sent.Load(), SentM: st.sentM.Load(), SendErrors: st.sendErr.Load(),
		Acked: st.acked.Load(), AckedM: st.ackedM.Load(), AckedWin: st.ackedWin.Load(), Delivered: st.delivered.Load(), DeliveredM: st.deliveredM.Load(),
		Errors: st.errors.Load(), ErrCodes: codes,
		Ack: st.ack.Export(), Deliver: st.deliver.Export(), Lag: st.lag.Export(),
		ConvFrames: m.convFrames.Load() - conv0, OtherFrames: m.otherFrames.Load() - other0, Foreign: m.foreign.Load() - foreign0, Dropped: m.dropped.Load(),
	}, nil
}

// runSchedule sends on the open-loop plan from several sender goroutines,
// each with its own share of the visitors.
func (m *chat) runSchedule(ctx context.Context, step int, st *stepStats, plan sched.Plan) {
	k := min(m.job.Senders, len(m.visitors))
	var wg sync.WaitGroup
	for s := range k {
		var mine []*session
		for i := s; i < len(m.visitors); i += k {
			mine = append(mine, m.visitors[i])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			snd := plan.Sender(s, k)
			var buf []byte
			for {
				i, due, ok := snd.Next(ctx)
				if !ok {
					return
				}
				v := mine[(i/int64(k))%int64(len(mine))]
				dueNS := due.UnixNano()
				buf = m.appendFrame(buf[:0], step, dueNS, i)
				st.lag.Record(time.Since(due))
				if err := v.c.Write(buf); err != nil {
					st.sendErr.Add(1)
					continue
				}
				st.sent.Add(1)
				if dueNS >= st.measureFrom {
					st.sentM.Add(1)
				}
			}
		}()
	}
	wg.Wait()
}

// runFlood keeps Window messages in flight per visitor (closed loop) until
// the end: the saturation throughput. The readers send the next message as
// each ack arrives.
func (m *chat) runFlood(ctx context.Context, c Cmd, st *stepStats, start time.Time, dur time.Duration) {
	m.flood.Store(&floodState{step: c.Step, until: start.Add(dur).UnixNano()})
	defer m.flood.Store(nil)
	select {
	case <-time.After(time.Until(start)):
	case <-ctx.Done():
		return
	}
	var buf []byte
	for range max(c.Window, 1) {
		for _, v := range m.visitors {
			now := time.Now().UnixNano()
			buf = m.appendFrame(buf[:0], c.Step, now, m.nextID.Add(1))
			if v.c.Write(buf) == nil {
				st.sent.Add(1)
				if now >= st.measureFrom {
					st.sentM.Add(1)
				}
			}
		}
	}
	select {
	case <-time.After(time.Until(start.Add(dur))):
	case <-ctx.Done():
	}
}

func (m *chat) close() {
	for _, v := range m.visitors {
		if v != nil {
			v.c.CloseNow()
		}
	}
	for _, c := range m.receivers {
		if c != nil {
			c.CloseNow()
		}
	}
}
