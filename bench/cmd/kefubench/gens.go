package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/kefuhq/kefu/bench/internal/proc"
)

// Job and Cmd mirror bench/cmd/loadgen's types (the wire between them).
type Job struct {
	Mode        string `json:"mode"`
	Proc        int    `json:"proc"`
	URL         string `json:"url"`
	AgentURL    string `json:"agent_url,omitempty"`
	Cookie      string `json:"cookie,omitempty"`
	Origin      string `json:"origin,omitempty"`
	Receive     string `json:"receive,omitempty"`
	N           int    `json:"n"`
	PerAgent    int    `json:"per_agent,omitempty"`
	Concurrency int    `json:"concurrency"`
	SrcIP       string `json:"src_ip"`
	TextBytes   int    `json:"text_bytes,omitempty"`
	Senders     int    `json:"senders,omitempty"`
	Question    string `json:"question,omitempty"`
}

type Cmd struct {
	Op       string  `json:"op"`
	Step     int     `json:"step"`
	Rate     float64 `json:"rate,omitempty"`
	StartNS  int64   `json:"start_ns"`
	DurMS    int     `json:"dur_ms"`
	WarmMS   int     `json:"warm_ms"`
	DrainMS  int     `json:"drain_ms"`
	Window   int     `json:"window,omitempty"`
	SpreadMS int     `json:"spread_ms,omitempty"`
}

// gen is one running loadgen process.
type gen struct {
	p      *proc.Proc
	log    string
	events chan event
}

type event struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// startGens starts one loadgen per job, each with its own source address,
// and waits for every one to report ready (or fail).
func (b *bench) startGens(ctx context.Context, name string, jobs []Job, timeout time.Duration) ([]*gen, []json.RawMessage, error) {
	var gens []*gen
	for i := range jobs {
		jobs[i].Proc = i
		jobs[i].SrcIP = b.srcIP()
		js, _ := json.Marshal(jobs[i])
		logf := filepath.Join(b.cfg.Work, fmt.Sprintf("%s-gen%d.log", name, i))
		p, err := b.procs.Start(proc.Spec{
			Name: fmt.Sprintf("%s-gen%d", name, i), Path: b.path("loadgen"),
			Args:    []string{"--job", string(js), "--max-duration", b.cfg.Budget.String()},
			LogFile: logf, Pipe: true, CPUs: b.pin.load,
		})
		if err != nil {
			stopGens(gens)
			return nil, nil, err
		}
		g := &gen{p: p, log: logf, events: make(chan event, 16)}
		go func() {
			defer close(g.events)
			for p.Stdout.Scan() {
				var e event
				if json.Unmarshal(p.Stdout.Bytes(), &e) == nil {
					g.events <- e
				}
			}
		}()
		gens = append(gens, g)
	}
	ready, err := waitAll(ctx, gens, timeout)
	if err != nil {
		stopGens(gens)
		return nil, nil, fmt.Errorf("%s generators: %w", name, err)
	}
	return gens, ready, nil
}

// broadcast sends cmd to every generator and waits for every result.
func broadcast(ctx context.Context, gens []*gen, cmd Cmd, timeout time.Duration) ([]json.RawMessage, error) {
	b, _ := json.Marshal(cmd)
	b = append(b, '\n')
	for _, g := range gens {
		if _, err := g.p.Stdin.Write(b); err != nil {
			return nil, fmt.Errorf("command to %s: %w", g.p.Name, err)
		}
	}
	return waitAll(ctx, gens, timeout)
}

// waitAll collects the next event of every generator.
func waitAll(ctx context.Context, gens []*gen, timeout time.Duration) ([]json.RawMessage, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	out := make([]json.RawMessage, len(gens))
	var errs []error
	for i, g := range gens {
		select {
		case e, ok := <-g.events:
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("%s exited (log: %s)", g.p.Name, tail(g.log)))
			case e.Event == "error":
				errs = append(errs, fmt.Errorf("%s: %s", g.p.Name, bytes.TrimSpace(e.Data)))
			default:
				out[i] = e.Data
			}
		case <-t.C:
			return nil, fmt.Errorf("%s: no answer within %v", g.p.Name, timeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, errors.Join(errs...)
}

// stopGens tells every generator to quit and makes sure it did.
func stopGens(gens []*gen) {
	for _, g := range gens {
		g.p.Stdin.Write([]byte(`{"op":"quit"}` + "\n"))
		g.p.Stdin.Close()
	}
	for _, g := range gens {
		g.p.Stop(5 * time.Second)
	}
}

// decode unmarshals every raw event into a new T.
func decode[T any](raws []json.RawMessage) ([]T, error) {
	out := make([]T, len(raws))
	for i, r := range raws {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			return nil, fmt.Errorf("decode generator result: %w", err)
		}
	}
	return out, nil
}
