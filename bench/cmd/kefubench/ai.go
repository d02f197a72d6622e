package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/kefuhq/kefu/bench/internal/hist"
	"github.com/kefuhq/kefu/bench/internal/proc"
)

// aiText is the fake upstream's answer, cut as OpenAI streams (one
// " word" or punctuation mark per chunk, fakeopenai --words), 20 ms apart:
// every chunk ends in a word, the case a relay's output filter must not
// hold back.
const aiText = "Thanks for asking! Orders ship within one business day and usually arrive in three to five days; the tracking link is in your email. " +
	"If anything is missing or damaged, reply here with your order number and we will send a replacement or refund you, whichever you prefer."

// aiShortText is the answer of the short-answer level: two chunks, so
// the relay's work there is the answers' start and end.
const aiShortText = "Hello."

// aiQuestion is what every visitor asks, made unique per visitor: no
// intent matches it (--demo=false), and it does not ask for a person.
const aiQuestion = "Could you explain the difference between the two subscription plans for my account"

// aiStreaming measures the latency the relay adds to streamed AI answers:
// the same number of concurrent streams read from the fake upstream
// directly, then through Kefu, back to back. At 1 000 streams the relay,
// the fake and the generators together need more than the box's two
// cores; at 100 they share them. Both levels run a second time with the
// relay alone on one CPU and the fake and the generators on the other
// (aiPin), to tell the relay's own lag from the box's.
func (b *bench) aiStreaming(ctx context.Context) error {
	b.res.AI = AI{ChunkDelayMS: 20, ChunksPerAns: wordChunks(aiText)}
	type level struct {
		streams, gens int
		spread        time.Duration
	}
	levels := []level{{5, 1, 8 * time.Second}, {100, 1, 100 * time.Millisecond}, {1000, 2, 200 * time.Millisecond}}
	if b.cfg.Quick {
		levels = []level{{1, 1, 0}, {50, 1, 100 * time.Millisecond}}
	}
	conc := func(l level) int {
		if l.streams <= 5 && l.spread >= time.Second {
			return 1 // one after another
		}
		return l.streams
	}
	run := func(pin cpuPin, delay time.Duration, text string, ls []level) error {
		b.pin = pin
		defer func() { b.pin = cpuPin{} }()
		faddr, fake, err := b.startFake(ctx, delay, text)
		if err != nil {
			return err
		}
		defer fake.Stop(5 * time.Second)
		s, err := b.startKefu(ctx, "ai-kefu", []string{"--demo=false", "--ai-max-concurrent", "2000", "--ai-daily-tokens", "0"},
			[]string{"OPENAI_BASE_URL=http://" + faddr + "/v1", "OPENAI_API_KEY=sk-bench"})
		if err != nil {
			return err
		}
		defer s.stop()
		paths := []string{"direct", "kefu"}
		// The floor: a minimal Go relay of the same streams on the same
		// CPU (bench/cmd/bare --ai-upstream), so the relay's cost per
		// chunk reads as a ratio to what relaying costs, pinned, and
		// what any relay adds on this shared box at the issue 13 level.
		floor, err := b.startBare(ctx, "ai-bare", false, "--ai-upstream", "http://"+faddr+"/v1")
		if err != nil {
			return err
		}
		defer floor.stop()
		paths = append(paths, "bare")
		// A warm-up round on every path first, not counted: the
		// measured rounds then meet what a relay that has been
		// answering meets (its connections to the upstream open, its
		// heap and goroutine stacks grown), not its first answers.
		warm := level{aiWarmStreams, 1, 100 * time.Millisecond}
		if b.cfg.Quick {
			warm.streams = 10
		}
		for _, path := range paths {
			rs := s
			if path == "bare" {
				rs = floor
			}
			if _, err := b.aiRun(ctx, rs, faddr, path, warm.streams, warm.gens, warm.spread, delay, nil); err != nil {
				return fmt.Errorf("%s warm-up: %w", path, err)
			}
		}
		for _, l := range ls {
			if b.cfg.AIStreams != nil && !b.cfg.AIStreams[l.streams] {
				continue
			}
			// The issue 13 level, shared, runs several rounds with the
			// paths taking turns, and each path's chunks are pooled: one
			// 2 s round's p99 is its 53 slowest chunks, which one moment
			// of the shared box can make (a round's relay-added p99
			// ranged +0.5 to +5 ms on one build in one hour), and taking
			// turns spreads such moments over the paths alike.
			rounds := 1
			if pin.relay == "" && l.streams == 100 {
				rounds = b.cfg.AIRounds
				if text == aiShortText {
					// Its CPU per answer, the figure it is for, moved
					// 2 % between two runs of five rounds (11m45s of
					// make bench's 12 minutes): three rounds suffice.
					rounds = min(rounds, aiShortRounds)
				}
			}
			pooled := map[string]*AIRun{}
			for round := range rounds {
				for _, path := range paths {
					if path == "bare" && pin.relay == "" && l.streams != 100 {
						continue // shared, the floor runs at the issue 13 level only
					}
					r, err := b.aiRound(ctx, s, floor, faddr, path, l.streams, l.gens, l.spread, delay, round == 0 && text == aiText)
					if err != nil {
						return err
					}
					if pooled[path] == nil {
						pooled[path] = &AIRun{}
					}
					pooled[path].pool(r)
				}
			}
			for _, path := range paths {
				r := pooled[path]
				if r == nil {
					continue
				}
				r.Concurrent = conc(l)
				if pin.relay != "" {
					r.Pinned = fmt.Sprintf("relay on CPU %s; fake upstream and generators on CPU %s", pin.relay, pin.load)
				}
				if delay != aiChunkDelay {
					r.ChunkDelayMS = int(delay / time.Millisecond)
				}
				if rounds == 1 {
					r.RoundsP99MS = nil
				}
				r.Short = text == aiShortText
				b.res.AI.Runs = append(b.res.AI.Runs, *r)
				b.log.Info("ai", "path", path, "streams", l.streams, "short", r.Short, "pinned", pin.relay != "", "chunk_every", delay, "chunk_p99_ms", round2(r.Chunk.P99M), "mid_p99_ms", round2(r.Mid.P99M),
					"first_p99_ms", round2(r.First.P99M), "completes", r.Completes, "relay_us_per_chunk", round2(r.RelayUSPerChunk), "rounds_p99_ms", r.RoundsP99MS)
			}
		}
		return nil
	}
	if err := run(cpuPin{}, aiChunkDelay, aiText, levels); err != nil {
		return err
	}
	if b.cfg.Quick {
		return nil
	}
	// The answers' start and end alone: the issue 13 level again, shared,
	// with a two-chunk answer. Its first chunks are Kefu's slowest in the
	// full answer's rows (they arrive while the other answers start), and
	// the relay's CPU per answer here is the start's and the end's cost,
	// a steadier figure than a p99 to hold against the floor's.
	if err := run(cpuPin{}, aiChunkDelay, aiShortText, []level{{100, 1, 100 * time.Millisecond}}); err != nil {
		return err
	}
	pin, ok := aiPin()
	if !ok {
		b.log.Info("ai: pinned run skipped (needs 2 CPUs and taskset)")
		return nil
	}
	// The pinned run: every level of 100 streams or more (the 5-stream
	// level is one stream at a time, nothing to separate).
	var pl, big []level
	for _, l := range levels {
		if l.streams >= 100 {
			pl = append(pl, l)
		}
		if l.streams >= 1000 {
			l.spread = aiSweepSpread
			big = append(big, l)
		}
	}
	if err := run(pin, aiChunkDelay, aiText, pl); err != nil {
		return err
	}
	// The sweep: the same 1 000 streams pinned, chunks further apart and
	// the answers' starts spread over aiSweepSpread, so the streaming
	// itself shows (at one chunk every 20 ms the relay and its floor are
	// past one core on this box, and so are the fake and the generators on
	// theirs; with 1 000 answers starting within 200 ms, the first chunks
	// of every path wait for the starts, whatever the rate).
	for _, d := range b.cfg.AISweep {
		if err := run(pin, d, aiText, big); err != nil {
			return err
		}
	}
	return nil
}

// aiShortRounds is the most rounds the short-answer level runs.
const aiShortRounds = 3

// aiWarmStreams is the size of the warm-up round each path runs before
// the measured ones.
const aiWarmStreams = 100

// aiChunkDelay is the fake's interval between chunks, OpenAI's pace.
const aiChunkDelay = 20 * time.Millisecond

// aiSweepSpread spreads the sweep's 1 000 answer starts (500 a second);
// at 80 ms a chunk an answer lasts 4.3 s, so all 1 000 stream at once for
// the last 2.3 s of it.
const aiSweepSpread = 2 * time.Second

// aiPin is the split of the pinned run: the relay on CPU 0, the fake
// upstream and the generators on CPU 1 — as in production, where the
// upstream is another machine and the visitors are other machines. It
// needs two CPUs and taskset(1).
func aiPin() (cpuPin, bool) {
	if runtime.NumCPU() < 2 {
		return cpuPin{}, false
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return cpuPin{}, false
	}
	return cpuPin{relay: "0", load: "1"}, true
}

// startFake runs the fake upstream answering text (on b.pin.load's CPUs
// when set).
func (b *bench) startFake(ctx context.Context, delay time.Duration, text string) (string, *proc.Proc, error) {
	port, err := proc.FreePort()
	if err != nil {
		return "", nil, err
	}
	faddr := fmt.Sprintf("127.0.0.1:%d", port)
	fargs := []string{"--addr", faddr, "--stamp", "--stamp-content", "--delay", delay.String(), "--steady", "--words", "--max-log", "-1", "--text", text}
	fake, err := b.procs.Start(proc.Spec{Name: "fakeopenai", Path: b.path("fakeopenai"), Args: fargs, LogFile: filepath.Join(b.cfg.Work, "fakeopenai.log"), CPUs: b.pin.load})
	if err != nil {
		return "", nil, err
	}
	b.fakePid = fake.Pid()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = proc.WaitHTTP(wctx, "http://"+faddr+"/v1/models", fake)
	cancel()
	if err != nil {
		fake.Stop(5 * time.Second)
		return "", nil, err
	}
	b.res.Commands = appendOnce(b.res.Commands, "fakeopenai "+joinQuoted(redactPorts(fargs)))
	return faddr, fake, nil
}

// aiProfiles are the profiles of Kefu's AI runs (--ai-profile apart or
// during).
var aiProfiles = []string{"cpu", "allocs"}

// aiRun runs n streams through path ("direct", "kefu" or "bare"), taking
// the relay's profiles of these kinds meanwhile (cpu, allocs, trace).
func (b *bench) aiRun(ctx context.Context, s *server, faddr, path string, n, ngen int, spread, delay time.Duration, profiles []string) (AIRun, error) {
	r := AIRun{Path: path, Streams: n}
	var jobs []Job
	for i := range ngen {
		share := n / ngen
		if i == ngen-1 {
			share = n - share*(ngen-1)
		}
		j := Job{Mode: "aidirect", URL: "http://" + faddr + "/v1", N: share, Concurrency: 64, Question: aiQuestion}
		if path != "direct" {
			j.Mode, j.URL = "ai", s.ws("/v1/ws")
		}
		jobs = append(jobs, j)
	}
	gs, _, err := b.startGens(ctx, fmt.Sprintf("ai-%s-%d", path, n), jobs, time.Minute)
	if err != nil {
		return r, err
	}
	defer stopGens(gs)
	start := time.Now().Add(300 * time.Millisecond)
	dur := spread + 20*time.Second + time.Duration(wordChunks(aiText))*delay
	prof := make(chan error, len(profiles))
	name := fmt.Sprintf("ai-kefu-%d", n)
	if b.pin.relay != "" {
		name += "-pinned" // the unpinned run's profiles stay
	}
	if delay != aiChunkDelay {
		name += fmt.Sprintf("-every%dms", delay/time.Millisecond)
	}
	for _, kind := range profiles {
		go func() {
			sleep(ctx, 300*time.Millisecond)
			prof <- b.profile(ctx, s, kind, 2, name+"."+kind+".pprof")
		}()
	}
	// CPU while every stream is open: after the last one started, for
	// most of an answer's length.
	type cpu struct{ relay, fake, gens, others float64 }
	cpuc := make(chan cpu, 1)
	go func() {
		pids := []int{s.p.Pid(), b.fakePid}
		for _, g := range gs {
			pids = append(pids, g.p.Pid())
		}
		sleep(ctx, time.Until(start.Add(spread+150*time.Millisecond)))
		boxA, _ := proc.BoxCPU()
		a := readAll(pids)
		sleep(ctx, 700*time.Millisecond)
		z := readAll(pids)
		boxZ, _ := proc.BoxCPU()
		var c cpu
		c.relay, c.fake = proc.CPUShare(a[0], z[0]), proc.CPUShare(a[1], z[1])
		for i := 2; i < len(a); i++ {
			c.gens += proc.CPUShare(a[i], z[i])
		}
		if wall := z[0].At.Sub(a[0].At); wall > 0 {
			c.others = max(0, float64(boxZ-boxA)/float64(wall)-c.relay-c.fake-c.gens)
		}
		cpuc <- c
	}()
	before := readAll([]int{s.p.Pid(), b.fakePid})
	raws, err := broadcast(ctx, gs, Cmd{Op: "go", StartNS: start.UnixNano(), DurMS: int(dur / time.Millisecond), SpreadMS: int(spread / time.Millisecond)}, dur+30*time.Second)
	if err != nil {
		return r, err
	}
	after := readAll([]int{s.p.Pid(), b.fakePid})
	c := <-cpuc
	r.FakeCPU, r.GenCPU, r.OthersCPU = c.fake, c.gens, c.others
	if path != "direct" {
		r.RelayCPU = c.relay
	}
	for range profiles {
		if perr := <-prof; perr != nil {
			b.log.Warn("profile", "err", perr)
		}
	}
	rs, err := decode[struct {
		Completes   int64       `json:"completes"`
		Incompletes int64       `json:"incompletes"`
		Handoffs    int64       `json:"handoffs"`
		Errors      int64       `json:"errors"`
		Chunks      int64       `json:"chunks"`
		Chunk       hist.Sparse `json:"chunk_lag"`
		Mid         hist.Sparse `json:"chunk_lag_mid"`
		First       hist.Sparse `json:"first_chunk_lag"`
		TTFT        hist.Sparse `json:"time_to_first_delta"`
		ElapsedMS   float64     `json:"elapsed_ms"`
	}](raws)
	if err != nil {
		return r, err
	}
	ch, la, fi, tt := &hist.H{}, &hist.H{}, &hist.H{}, &hist.H{}
	for _, x := range rs {
		r.Completes += x.Completes
		r.Incompletes += x.Incompletes
		r.Handoffs += x.Handoffs
		r.Errors += x.Errors
		r.Chunks += x.Chunks
		ch.Merge(hist.Import(x.Chunk))
		la.Merge(hist.Import(x.Mid))
		fi.Merge(hist.Import(x.First))
		tt.Merge(hist.Import(x.TTFT))
		r.ElapsedS = max(r.ElapsedS, x.ElapsedMS/1000)
	}
	r.Chunk, r.Mid, r.First, r.TTFT = ch.Summarize(), la.Summarize(), fi.Summarize(), tt.Summarize()
	r.hists = &aiHists{chunk: ch, mid: la, first: fi, ttft: tt}
	if r.Chunks > 0 {
		if path != "direct" {
			r.RelayUSPerChunk = float64(after[0].CPU-before[0].CPU) / float64(time.Microsecond) / float64(r.Chunks)
		}
		r.FakeUSPerChunk = float64(after[1].CPU-before[1].CPU) / float64(time.Microsecond) / float64(r.Chunks)
	}
	if r.Completes > 0 && path != "direct" {
		r.RelayUSPerAnswer = float64(after[0].CPU-before[0].CPU) / float64(time.Microsecond) / float64(r.Completes)
	}
	return r, nil
}

// aiRound runs one round of n streams on path; the first round of Kefu's
// at 100 streams or more is profiled as --ai-profile says.
func (b *bench) aiRound(ctx context.Context, s, floor *server, faddr, path string, n, gens int, spread, delay time.Duration, first bool) (AIRun, error) {
	rs := s
	if path == "bare" {
		rs = floor
	}
	profiled := first && path == "kefu" && n >= 100
	var during []string
	if profiled && b.cfg.AIProfile == "during" {
		during = aiProfiles
	}
	r, err := b.aiRun(ctx, rs, faddr, path, n, gens, spread, delay, during)
	if err != nil {
		return r, fmt.Errorf("%s with %d streams: %w", path, n, err)
	}
	if apart := map[string][]string{"apart": aiProfiles, "trace": {"trace"}}[b.cfg.AIProfile]; profiled && apart != nil {
		// Profiles come from a run of their own, as in the chat
		// scenario: the profiler's own work in the relay (sampling, then
		// encoding and compressing two profiles on the relay's CPUs)
		// stays out of the measured run, which the floor's compares to.
		pr, err := b.aiRun(ctx, rs, faddr, path, n, gens, spread, delay, apart)
		if err != nil {
			return r, fmt.Errorf("%s with %d streams, profiled: %w", path, n, err)
		}
		b.log.Info("ai profiled (not counted)", "path", path, "streams", n, "pinned", b.pin.relay != "", "chunk_p99_ms", round2(pr.Chunk.P99M))
	}
	return r, nil
}

// readAll samples several processes.
func readAll(pids []int) []proc.Stat {
	out := make([]proc.Stat, len(pids))
	for i, p := range pids {
		out[i], _ = proc.Read(p)
	}
	return out
}

// joinQuoted joins arguments for the report, quoting those with spaces.
func joinQuoted(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if strings.ContainsRune(a, ' ') {
			out[i] = strconv.Quote(a)
		}
	}
	return strings.Join(out, " ")
}

// wordChunks counts the chunks fakeopenai --words cuts text into: a word
// with its leading spaces, or one other character.
func wordChunks(text string) int {
	n := 0
	prevWord, prevSpace := false, false
	for i, r := range text {
		word := unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\''
		space := unicode.IsSpace(r)
		switch {
		case i == 0:
			n++
		case word && (prevWord || prevSpace), space && prevSpace:
		default:
			n++
		}
		prevWord, prevSpace = word, space
	}
	return n
}
