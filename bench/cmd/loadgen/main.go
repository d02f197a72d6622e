// Command loadgen is one load-generator process of the benchmark. The
// orchestrator (kefubench) starts several of them, each with a job in
// --job (JSON), and drives them over stdin/stdout with one JSON object per
// line: commands in, events out. Every loadgen opens at most a few
// thousand sockets (one process holds 20 000 files at most) from its own
// source address, and exits by itself after --max-duration or when its
// stdin closes, so no run can outlive the benchmark.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Job is what one loadgen process does; the orchestrator fills it.
type Job struct {
	Mode        string `json:"mode"` // idle, chat, ai, aidirect
	Proc        int    `json:"proc"` // index among the generators, part of every message id
	URL         string `json:"url"`  // visitor socket ws://…/v1/ws, or the upstream base URL (aidirect)
	AgentURL    string `json:"agent_url,omitempty"`
	Cookie      string `json:"cookie,omitempty"`
	Origin      string `json:"origin,omitempty"`
	Receive     string `json:"receive,omitempty"` // chat: "agent" or "visitor"
	N           int    `json:"n"`                 // sessions, conversations or streams
	PerAgent    int    `json:"per_agent,omitempty"`
	Concurrency int    `json:"concurrency"` // dials in flight
	SrcIP       string `json:"src_ip"`
	TextBytes   int    `json:"text_bytes,omitempty"`
	Senders     int    `json:"senders,omitempty"`
	Question    string `json:"question,omitempty"`
}

// Cmd is one instruction from the orchestrator.
type Cmd struct {
	Op       string  `json:"op"` // step, flood, go, stats, quit
	Step     int     `json:"step"`
	Rate     float64 `json:"rate,omitempty"` // this process's share, events/s
	StartNS  int64   `json:"start_ns"`
	DurMS    int     `json:"dur_ms"`
	WarmMS   int     `json:"warm_ms"`
	DrainMS  int     `json:"drain_ms"`
	Window   int     `json:"window,omitempty"`    // flood: messages in flight per visitor
	SpreadMS int     `json:"spread_ms,omitempty"` // go: start the streams over this long
}

// out writes events, one JSON line each, from any goroutine.
type out struct {
	mu sync.Mutex
	w  io.Writer
}

func (o *out) emit(event string, v any) {
	b, _ := json.Marshal(v)
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.w, "{\"event\":%q,\"data\":%s}\n", event, b)
}

// mode is a loaded job: it answers commands until quit.
type mode interface {
	setup(ctx context.Context) (any, error)
	handle(ctx context.Context, c Cmd) (any, error)
	close()
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jobJSON := fs.String("job", "", "the job, as JSON")
	maxDur := fs.Duration("max-duration", 10*time.Minute, "exit after this long whatever happens")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var job Job
	if err := json.Unmarshal([]byte(*jobJSON), &job); err != nil {
		fmt.Fprintf(stderr, "loadgen: bad --job: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("proc", job.Proc, "mode", job.Mode)
	ctx, cancel := context.WithTimeout(ctx, *maxDur)
	defer cancel()
	o := &out{w: stdout}

	var m mode
	switch job.Mode {
	case "idle":
		m = newIdle(job, log)
	case "chat":
		m = newChat(job, log)
	case "ai":
		m = newAI(job, log)
	case "aidirect":
		m = newDirect(job, log)
	default:
		fmt.Fprintf(stderr, "loadgen: unknown mode %q\n", job.Mode)
		return 2
	}
	defer m.close()

	ready, err := m.setup(ctx)
	if err != nil {
		log.Error("setup failed", "err", err)
		o.emit("error", map[string]string{"error": err.Error()})
		return 1
	}
	o.emit("ready", ready)

	cmds := make(chan Cmd)
	go func() {
		defer close(cmds)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			var c Cmd
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				log.Error("bad command", "err", err)
				continue
			}
			select {
			case cmds <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			log.Warn("stopping", "why", ctx.Err())
			return 1
		case c, ok := <-cmds:
			if !ok || c.Op == "quit" {
				return 0
			}
			res, err := m.handle(ctx, c)
			if err != nil {
				o.emit("error", map[string]string{"error": err.Error()})
				continue
			}
			o.emit("result", res)
		}
	}
}
