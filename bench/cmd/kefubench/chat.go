package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/kefuhq/kefu/bench/internal/hist"
	"github.com/kefuhq/kefu/bench/internal/proc"
)

// chatParams size the chat-traffic and durable scenarios.
type chatParams struct {
	convs, gens, perAgent int
	rates                 []float64
	step, warm, drain     time.Duration
	profileRate           float64
	flood                 time.Duration
	window                int
}

func (b *bench) chatParams() chatParams {
	if b.cfg.Quick {
		return chatParams{convs: 200, gens: 1, perAgent: 50, rates: []float64{1000, 5000},
			step: 1500 * time.Millisecond, warm: 500 * time.Millisecond, drain: 5 * time.Second, profileRate: 5000,
			flood: 1500 * time.Millisecond, window: 4}
	}
	p := chatParams{convs: 1000, gens: 2, perAgent: 50,
		rates: []float64{1000, 2500, 5000, 10000, 15000, 20000, 25000, 30000, 40000},
		step:  6 * time.Second, warm: time.Second, drain: 20 * time.Second, profileRate: 10000,
		flood: 6 * time.Second, window: 4}
	if b.cfg.ChatRates != nil {
		p.rates = b.cfg.ChatRates
	}
	if b.cfg.ProfileRate > 0 {
		p.profileRate = b.cfg.ProfileRate
	}
	return p
}

// knee is the seed's bar: delivery p99 must stay at or under 50 ms.
const kneeP99 = 50.0

// chatAndDurable runs chat traffic at rising load on Kefu and on the bare
// baseline, then each one's closed-loop saturation (durable throughput).
// Every server is set up first and the steps alternate between them, so
// Kefu and bare at the same rate run seconds apart: the machine is shared,
// and a ratio is only honest if both sides saw the same neighbours.
func (b *bench) chatAndDurable(ctx context.Context) error {
	p := b.chatParams()
	b.res.Chat = Chat{Convs: p.convs, PerAgent: p.perAgent, Generators: p.gens, StepS: p.step.Seconds(), WarmS: p.warm.Seconds(), TextBytes: 200}
	// Kefu a second time with visitor sockets receiving: the same store and
	// fan-out path without the agent inbox updates, to tell them apart.
	kinds := []string{kindKefu, kindBare, kindKefuVisitors, kindBareDurable, kindKefuNoLog}
	if b.cfg.Quick {
		kinds = []string{kindKefu, kindBare, kindBareDurable, kindKefuNoLog}
	}
	var runs []*chatRun
	defer func() {
		for _, r := range runs {
			r.close()
		}
	}()
	var errs []string
	for _, kind := range kinds {
		r, err := b.chatSetup(ctx, kind, p)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", kind, err))
			continue
		}
		runs = append(runs, r)
	}
	step := 0
	for _, rate := range p.rates {
		for _, r := range runs {
			// bare+bbolt and Kefu without the log are only comparison
			// points at the target rate.
			if !r.active || (oneStep(r.cs.Server) && rate != p.profileRate) || ctx.Err() != nil {
				continue
			}
			// A failing step is run once more before the ramp stops: the
			// box is shared, and one noisy step must not decide the knee.
			// Both attempts are reported.
			for attempt := 0; attempt < 2; attempt++ {
				st, err := b.chatStep(ctx, r.s, r.gs, step, rate, p, "step")
				step++
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s at %v/s: %v", r.cs.Server, rate, err))
					r.active = false
					break
				}
				st.Repeat = attempt > 0
				r.cs.Steps = append(r.cs.Steps, st)
				b.log.Info("chat step", "server", r.cs.Server, "offered", rate, "acked_per_s", int(st.AckedPerS), "drain_s", round2(st.DrainS),
					"p50_ms", round2(st.Deliver.P50M), "p99_ms", round2(st.Deliver.P99M), "missing", st.Missing, "relay_cpu", round2(st.RelayCPU), "others_cpu", round2(st.OthersCPU))
				if passes(st) {
					r.cs.Knee = max(r.cs.Knee, rate)
					break
				}
				if attempt == 1 || oneStep(r.cs.Server) || b.cfg.Quick {
					r.active = false
					break
				}
			}
			if oneStep(r.cs.Server) {
				r.active = false
			}
		}
	}
	if !b.cfg.Quick {
		for _, r := range runs {
			if r.cs.Server == kindKefu || r.cs.Server == kindBare || r.cs.Server == kindBareDurable {
				b.profiledStep(ctx, r, step, p)
				step++
			}
		}
	}
	for _, r := range runs {
		if ctx.Err() != nil {
			break
		}
		d, err := b.saturation(ctx, r, step, p)
		step++
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s saturation: %v", r.cs.Server, err))
		}
		b.res.Durable = append(b.res.Durable, d)
	}
	for _, r := range runs {
		b.res.Chat.Servers = append(b.res.Chat.Servers, r.cs)
	}
	// The store's own floor, with no sockets, at a batch size the
	// saturation runs reached and at a small one.
	for _, batch := range []int{8, 512} {
		// Enough small commits to see the fsync tail (p99).
		n := 40
		if batch < 100 {
			n = 400
		}
		if b.cfg.Quick {
			n /= 4
		}
		f, err := b.boltFloor(batch, p.convs, n)
		if err != nil {
			errs = append(errs, err.Error())
			break
		}
		b.res.Floor = append(b.res.Floor, f...)
	}
	if len(errs) > 0 {
		return fmt.Errorf("chat: %s", strings.Join(errs, "; "))
	}
	return nil
}

// chatRun is one server under chat traffic with its generators.
type chatRun struct {
	cs     ChatServer
	s      *server
	gs     []*gen
	active bool
}

func (r *chatRun) close() {
	stopGens(r.gs)
	r.s.stop()
}

func (b *bench) chatSetup(ctx context.Context, kind string, p chatParams) (*chatRun, error) {
	var s *server
	var err error
	switch kind {
	case kindKefu:
		// No intents and no AI: the first message of a conversation hands
		// it to the human queue; later ones are only stored and fanned out.
		s, err = b.startKefu(ctx, "chat-kefu", []string{"--demo=false"}, nil)
	case kindBare:
		s, err = b.startBare(ctx, "chat-bare", false)
	case kindBareDurable:
		s, err = b.startBare(ctx, "chat-bare-durable", true)
	case kindKefuVisitors:
		s, err = b.startKefu(ctx, "chat-kefu-visitors", []string{"--demo=false"}, nil)
	case kindKefuNoLog:
		s, err = b.startKefu(ctx, "chat-kefu-nolog", []string{"--demo=false", "--log-compact-at", "0"}, nil)
	}
	if err != nil {
		return nil, err
	}
	if kind == kindKefu {
		b.res.Chat.Receive, b.res.Chat.ReceiveNote = b.receivePath(ctx, s)
	}
	receive := b.res.Chat.Receive
	if kind == kindKefuVisitors {
		receive = "visitor"
	}
	if kind == kindKefuNoLog && receive == "agent" {
		// Its own admin session: a cookie of another relay is no login here.
		if r, note := b.receivePath(ctx, s); r != "agent" {
			s.stop()
			return nil, fmt.Errorf("admin sign-in: %s", note)
		}
	}
	gs, err := b.chatGens(ctx, s, p, receive)
	if err != nil && kind == kindKefu && receive == "agent" {
		b.res.Chat.ReceiveNote += fmt.Sprintf("; agent sockets failed at setup (%v), so a second visitor socket per conversation was measured instead", err)
		b.res.Chat.Receive = "visitor"
		gs, err = b.chatGens(ctx, s, p, "visitor")
	}
	if err != nil {
		s.stop()
		return nil, err
	}
	return &chatRun{cs: ChatServer{Server: kind}, s: s, gs: gs, active: true}, nil
}

// profiledStep runs the target rate apart from the ramp with CPU and
// allocation profiles, so the profiler's own cost stays out of the table.
func (b *bench) profiledStep(ctx context.Context, r *chatRun, step int, p chatParams) {
	secs := int(max(1, (p.step - p.warm).Seconds()))
	pc := make(chan error, 2)
	for _, kind := range []string{"cpu", "allocs"} {
		go func() {
			sleep(ctx, 300*time.Millisecond+p.warm)
			pc <- b.profile(ctx, r.s, kind, secs, fmt.Sprintf("chat-%s-%dk.%s.pprof", fileName(r.s.kind), int(p.profileRate/1000), kind))
		}()
	}
	st, err := b.chatStep(ctx, r.s, r.gs, step, p.profileRate, p, "step")
	for range 2 {
		if perr := <-pc; perr != nil {
			b.log.Warn("profile", "err", perr)
		}
	}
	if err != nil {
		b.log.Warn("profiled step", "err", err)
		return
	}
	r.cs.Profiled = &st
	b.log.Info("profiled step", "server", r.cs.Server, "offered", p.profileRate, "p99_ms", round2(st.Deliver.P99M), "drain_s", round2(st.DrainS))
}

// saturation keeps a window of messages in flight per visitor.
func (b *bench) saturation(ctx context.Context, r *chatRun, step int, p chatParams) (Durable, error) {
	d := Durable{Server: r.cs.Server, Window: p.window, Visitors: p.convs}
	pc := make(chan error, 1)
	// Both sides of the CPU ratio are profiled (the profiler costs a
	// little CPU, the same on each).
	profiled := (r.cs.Server == kindKefu || r.cs.Server == kindBareDurable) && !b.cfg.Quick
	if profiled {
		go func() {
			sleep(ctx, 300*time.Millisecond+p.warm)
			pc <- b.profile(ctx, r.s, "cpu", int(max(1, (p.flood-p.warm).Seconds())), "saturation-"+fileName(r.cs.Server)+".cpu.pprof")
		}()
	}
	fp := p
	fp.step = p.flood
	st, err := b.chatStep(ctx, r.s, r.gs, step, 0, fp, "flood")
	if profiled {
		if perr := <-pc; perr != nil {
			b.log.Warn("profile", "err", perr)
		}
	}
	if err != nil {
		return d, err
	}
	d.MsgsPerS, d.CommitsPerS, d.WritesPerCommit, d.MsPerCommit = st.AckedPerS, st.CommitsPerS, st.WritesPerCommit, st.MsPerCommit
	d.Ack, d.Deliver, d.RelayCPU, d.GenCPU, d.Errors, d.Load, d.OthersCPU = st.Ack, st.Deliver, st.RelayCPU, st.GenCPU, st.Errors+st.Missing, st.Load, st.OthersCPU
	b.log.Info("saturation", "server", r.cs.Server, "acked_per_s", int(d.MsgsPerS), "commits_per_s", int(d.CommitsPerS), "writes_per_commit", round2(d.WritesPerCommit), "load", st.Load)
	return d, nil
}

// passes says whether a step is under the knee: delivery p99 within 50 ms
// and at most one message in a thousand missing or refused.
func passes(st ChatStep) bool {
	bad := st.Missing + st.Errors
	return st.Deliver.P99M <= kneeP99 && float64(bad) <= 0.001*float64(max(st.Sent, 1)) && st.Deliver.Count > 0
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// chatGens starts the chat generators: each owns a share of the
// conversations and their receiving side.
func (b *bench) chatGens(ctx context.Context, s *server, p chatParams, receive string) ([]*gen, error) {
	var jobs []Job
	for i := range p.gens {
		share := p.convs / p.gens
		if i == p.gens-1 {
			share = p.convs - share*(p.gens-1)
		}
		j := Job{Mode: "chat", URL: s.ws("/v1/ws"), Receive: receive, N: share, PerAgent: p.perAgent,
			Concurrency: 32, TextBytes: b.res.Chat.TextBytes, Senders: 4}
		if receive == "agent" {
			j.AgentURL, j.Origin, j.Cookie = s.ws("/v1/agent/ws"), "http://"+s.addr, b.cookie
		}
		jobs = append(jobs, j)
	}
	gs, _, err := b.startGens(ctx, s.name, jobs, 2*time.Minute)
	return gs, err
}

// receivePath decides how chat traffic is received on Kefu: by agent
// sockets when /v1/agent/ws exists and the admin can sign in, else by a
// second visitor socket per conversation (the same fan-out: stored message
// → hub → socket).
func (b *bench) receivePath(ctx context.Context, s *server) (string, string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url("/v1/agent/ws"), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "visitor", fmt.Sprintf("GET /v1/agent/ws failed (%v): second visitor socket per conversation", err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
		return "visitor", fmt.Sprintf("GET /v1/agent/ws answered %d (the agent socket is not in this build): a second visitor socket per conversation, with the same token, received the messages", resp.StatusCode)
	}
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": adminPassword})
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, s.url("/v1/auth/login"), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://"+s.addr)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return "visitor", fmt.Sprintf("login failed (%v): second visitor socket per conversation", err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "visitor", fmt.Sprintf("POST /v1/auth/login answered %s (%s): second visitor socket per conversation", resp.Status, bytes.TrimSpace(msg))
	}
	var parts []string
	for _, c := range resp.Cookies() {
		parts = append(parts, c.Name+"="+c.Value)
	}
	b.cookie = strings.Join(parts, "; ")
	return "agent", fmt.Sprintf("agent sockets (GET /v1/agent/ws, signed in as the admin, one socket watching %d conversations)", b.chatParams().perAgent)
}

// chatStep runs one step (open loop at rate) or flood on every generator
// and reads the server's CPU and commit counters over the measured window.
func (b *bench) chatStep(ctx context.Context, s *server, gs []*gen, step int, rate float64, p chatParams, op string) (ChatStep, error) {
	st := ChatStep{Offered: rate}
	start := time.Now().Add(300 * time.Millisecond)
	cmd := Cmd{Op: op, Step: step, Rate: rate / float64(len(gs)), StartNS: start.UnixNano(),
		DurMS: int(p.step / time.Millisecond), WarmMS: int(p.warm / time.Millisecond), DrainMS: int(p.drain / time.Millisecond), Window: p.window}
	type sample struct {
		srv  proc.Stat
		gens []proc.Stat
		cnt  counters
		box  time.Duration
	}
	take := func() sample {
		var sm sample
		sm.box, _ = proc.BoxCPU()
		sm.srv, _ = proc.Read(s.p.Pid())
		for _, g := range gs {
			gst, _ := proc.Read(g.p.Pid())
			sm.gens = append(sm.gens, gst)
		}
		sm.cnt, _ = s.read(ctx)
		return sm
	}
	samples := make(chan [2]sample, 1)
	go func() {
		sleep(ctx, time.Until(start.Add(p.warm)))
		a := take()
		sleep(ctx, time.Until(start.Add(p.step)))
		samples <- [2]sample{a, take()}
	}()
	raws, err := broadcast(ctx, gs, cmd, p.step+p.drain+30*time.Second)
	if err != nil {
		return st, err
	}
	sm := <-samples
	rs, err := decode[struct {
		Sent       int64          `json:"sent"`
		SentM      int64          `json:"sent_m"`
		SendErrors int64          `json:"send_errors"`
		AckedWin   int64          `json:"acked_in_window"`
		AckedM     int64          `json:"acked_m"`
		DeliveredM int64          `json:"delivered_m"`
		Errors     int64          `json:"errors"`
		ErrCodes   map[string]int `json:"error_codes"`
		Ack        hist.Sparse    `json:"ack"`
		Deliver    hist.Sparse    `json:"deliver"`
		Lag        hist.Sparse    `json:"send_lag"`
		ConvFrames int64          `json:"conversation_frames"`
		MeasureS   float64        `json:"measure_s"`
		DrainS     float64        `json:"drain_s"`
	}](raws)
	if err != nil {
		return st, err
	}
	ack, del, lag := &hist.H{}, &hist.H{}, &hist.H{}
	var measure float64
	for _, r := range rs {
		st.Sent += r.SentM
		st.AckedPerS += float64(r.AckedWin)
		st.Missing += r.SentM - r.DeliveredM
		st.Errors += r.Errors + r.SendErrors
		st.ConvFramesPerS += float64(r.ConvFrames)
		for k, v := range r.ErrCodes {
			if st.ErrCodes == nil {
				st.ErrCodes = map[string]int{}
			}
			st.ErrCodes[k] += v
		}
		ack.Merge(hist.Import(r.Ack))
		del.Merge(hist.Import(r.Deliver))
		lag.Merge(hist.Import(r.Lag))
		measure = r.MeasureS
		st.DrainS = max(st.DrainS, r.DrainS)
	}
	if measure > 0 {
		st.AckedPerS /= measure
		st.ConvFramesPerS /= p.step.Seconds()
	}
	st.Ack, st.Deliver, st.SendLag = ack.Summarize(), del.Summarize(), lag.Summarize()
	a, z := sm[0], sm[1]
	st.RelayCPU = proc.CPUShare(a.srv, z.srv)
	for i := range a.gens {
		st.GenCPU += proc.CPUShare(a.gens[i], z.gens[i])
	}
	st.RSS = z.srv.RSS
	st.Load = loadAvg()
	if wall := z.srv.At.Sub(a.srv.At); wall > 0 {
		st.OthersCPU = max(0, float64(z.box-a.box)/float64(wall)-st.RelayCPU-st.GenCPU)
	}
	if secs := z.srv.At.Sub(a.srv.At).Seconds(); secs > 0 {
		st.CommitsPerS = (z.cnt.Commits - a.cnt.Commits) / secs
		if dc := z.cnt.Commits - a.cnt.Commits; dc > 0 {
			st.WritesPerCommit = (z.cnt.Writes - a.cnt.Writes) / dc
			st.MsPerCommit = 1000 * (z.cnt.CommitSecs - a.cnt.CommitSecs) / dc
		}
	}
	return st, nil
}
