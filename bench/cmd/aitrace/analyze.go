package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/exp/trace"
)

// matchers name the frames that make a goroutine an answer's stream: it
// waits for the upstream in read, and hands a chunk to the visitor by a
// system call under write.
type matchers struct {
	stream string // a frame of every answer's goroutine
	read   string // the frame it waits for the upstream in
	write  string // a frame of the system call that sends a chunk on
	// An answer's first chunk often comes with the reply's headers: the
	// goroutine waits in reply, and one with replier in its stack (net/
	// http's readLoop) reads the reply and wakes it. That chunk's time
	// starts when the network woke the replier.
	reply   string
	replier string
}

// chunk is one chunk's way through the relay.
type chunk struct {
	g     trace.GoID
	index int        // 1 for an answer's first chunk (per goroutine)
	ready trace.Time // the network made the goroutine runnable
	run   trace.Time // it ran
	write trace.Time // it entered the system call that sends the chunk
	inGC  bool
}

func (c chunk) lag() trace.Time   { return c.write - c.ready }
func (c chunk) sched() trace.Time { return c.run - c.ready }

// span is a goroutine running on a processor, named by its root.
type span struct {
	start, end trace.Time
	root       string
}

// syscall is a goroutine in a system call, named by its first frame
// outside the runtime, syscall and poll packages.
type syscall struct {
	start, end trace.Time
	what       string
}

// result is what a trace holds for the report.
type result struct {
	first, last trace.Time
	chunks      []chunk
	spans       []span
	syscalls    []syscall
	gcs         [][2]trace.Time // GC mark phases
}

// analyze reads a trace.
func analyze(r io.Reader, m matchers) (*result, error) {
	tr, err := trace.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("aitrace: %w", err)
	}
	res := &result{}
	var (
		waitsForUpstream = map[trace.GoID]bool{}
		waitsForReply    = map[trace.GoID]bool{}
		woke             = map[trace.GoID]trace.Time{} // when each goroutine last became runnable
		ready            = map[trace.GoID]trace.Time{}
		ran              = map[trace.GoID]trace.Time{}
		count            = map[trace.GoID]int{}
		runStart         = map[trace.GoID]trace.Time{}
		rootOf           = map[trace.GoID]string{}
		inSys            = map[trace.GoID]syscall{}
		gcStart          trace.Time
		inGC             bool
	)
	for {
		e, err := tr.ReadEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("aitrace: %w", err)
		}
		if res.first == 0 {
			res.first = e.Time()
		}
		res.last = e.Time()
		switch e.Kind() {
		case trace.EventRangeBegin:
			if strings.HasPrefix(e.Range().Name, "GC concurrent mark") {
				gcStart, inGC = e.Time(), true
			}
		case trace.EventRangeEnd:
			if strings.HasPrefix(e.Range().Name, "GC concurrent mark") && inGC {
				res.gcs = append(res.gcs, [2]trace.Time{gcStart, e.Time()})
				inGC = false
			}
		case trace.EventStateTransition:
			st := e.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				continue
			}
			g := st.Resource.Goroutine()
			from, to := st.Goroutine()
			if from == trace.GoRunning {
				if s, ok := runStart[g]; ok {
					if rootOf[g] == "" {
						rootOf[g] = root(e.Stack())
					}
					res.spans = append(res.spans, span{s, e.Time(), rootOf[g]})
					delete(runStart, g)
				}
			}
			if from == trace.GoWaiting && to == trace.GoRunnable {
				woke[g] = e.Time()
			}
			switch {
			case to == trace.GoRunning:
				runStart[g] = e.Time()
				if _, ok := ready[g]; ok {
					if _, ok := ran[g]; !ok {
						ran[g] = e.Time()
					}
				}
			case from == trace.GoRunning && to == trace.GoWaiting:
				s := e.Stack()
				waitsForUpstream[g] = has(s, m.stream) && has(s, m.read)
				waitsForReply[g] = m.reply != "" && has(s, m.stream) && has(s, m.reply)
				if rootOf[g] == "" {
					rootOf[g] = root(s)
				}
			case from == trace.GoWaiting && to == trace.GoRunnable && waitsForUpstream[g]:
				ready[g] = e.Time()
				waitsForUpstream[g] = false
			case from == trace.GoWaiting && to == trace.GoRunnable && waitsForReply[g]:
				waitsForReply[g] = false
				if r := e.Goroutine(); r != trace.NoGoroutine && has(e.Stack(), m.replier) {
					t, ok := woke[r]
					if !ok {
						t = e.Time()
					}
					ready[g] = t
				}
			case from == trace.GoRunning && to == trace.GoSyscall:
				s := e.Stack()
				inSys[g] = syscall{start: e.Time(), what: caller(s)}
				if t0, ok := ready[g]; ok && has(s, m.write) {
					count[g]++
					res.chunks = append(res.chunks, chunk{g: g, index: count[g], ready: t0, run: ran[g], write: e.Time(), inGC: inGC})
					delete(ready, g)
					delete(ran, g)
				}
			}
			if from == trace.GoSyscall {
				if x, ok := inSys[g]; ok {
					x.end = e.Time()
					res.syscalls = append(res.syscalls, x)
					delete(inSys, g)
				}
			}
		}
	}
	return res, nil
}

func has(s trace.Stack, sub string) bool {
	for f := range s.Frames() {
		if strings.Contains(f.Func, sub) {
			return true
		}
	}
	return false
}

// root names a goroutine by the outermost frame of the program (not the
// runtime's, net/http's serve loops excepted).
func root(s trace.Stack) string {
	var fns []string
	for f := range s.Frames() {
		fns = append(fns, f.Func)
	}
	for _, fn := range slices.Backward(fns) {
		if !strings.HasPrefix(fn, "runtime.") && !strings.HasPrefix(fn, "internal/") {
			return short(fn)
		}
	}
	if len(fns) > 0 {
		return short(fns[len(fns)-1])
	}
	return "?"
}

// caller is the innermost frame outside the runtime, syscall and poll
// packages: who made the system call.
func caller(s trace.Stack) string {
	for f := range s.Frames() {
		switch {
		case strings.HasPrefix(f.Func, "runtime."), strings.HasPrefix(f.Func, "syscall."),
			strings.HasPrefix(f.Func, "internal/"), strings.HasPrefix(f.Func, "os."):
			continue
		}
		return short(f.Func)
	}
	return "?"
}

func short(fn string) string {
	if i := strings.LastIndex(fn, "/"); i >= 0 {
		return fn[i+1:]
	}
	return fn
}
