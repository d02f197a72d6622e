package ai

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// watchdog enforces Timeouts on one answer by cancelling its context with
// a *TimeoutError as the cause. Two timers: one for the whole answer, one
// for the current phase (first token, then the gap since the last chunk).
//
// A chunk does not reset the phase timer: it only stores its time (an
// atomic store per chunk, where a Reset per chunk was a timer-heap update
// per delta, with a thousand answers' timers in the heap). When the timer
// fires in the chunk-gap phase, it re-arms itself for what is left of the
// gap since the last chunk, so a steady answer re-arms it about once per
// ChunkGap, not once per chunk.
type watchdog struct {
	t      Timeouts
	cancel context.CancelCauseFunc
	total  *time.Timer
	phase  *time.Timer
	start  time.Time
	// since is the time since start; time.Since but for tests.
	since func() time.Duration

	// last is the time since start of the last chunk after the first
	// content, 0 before the first content (a chunk at 0 is stored as 1).
	last atomic.Int64

	mu      sync.Mutex // the phase timer's re-arming against stop
	stopped bool
}

func newWatchdog(t Timeouts, cancel context.CancelCauseFunc) *watchdog {
	w := &watchdog{t: t, cancel: cancel, start: time.Now()}
	w.since = func() time.Duration { return time.Since(w.start) }
	w.total = time.AfterFunc(t.Answer, func() {
		cancel(&TimeoutError{Phase: "answer", After: t.Answer})
	})
	w.phase = time.AfterFunc(t.FirstToken, w.phaseOver)
	return w
}

// chunk records that a chunk arrived; content says whether it carried text.
// Chunks before the first content do not count: the first-token deadline
// stands until text (or a tool call) comes.
func (w *watchdog) chunk(content bool) {
	if !content && w.last.Load() == 0 {
		return
	}
	now := max(int64(w.since()), 1)
	if w.last.Swap(now) == 0 {
		// The first content: from now on the phase is the chunk gap.
		w.mu.Lock()
		if !w.stopped {
			w.phase.Reset(w.t.ChunkGap)
		}
		w.mu.Unlock()
	}
}

// phaseOver is the phase timer's end: the first-token deadline, or a
// chunk gap unless a chunk came since the timer was armed.
func (w *watchdog) phaseOver() {
	last := w.last.Load()
	if last == 0 {
		w.cancel(&TimeoutError{Phase: "first token", After: w.t.FirstToken})
		return
	}
	if left := w.t.ChunkGap - (w.since() - time.Duration(last)); left > 0 {
		w.mu.Lock()
		if !w.stopped {
			w.phase.Reset(left)
		}
		w.mu.Unlock()
		return
	}
	w.cancel(&TimeoutError{Phase: "chunk gap", After: w.t.ChunkGap})
}

// firstTokenLeft is the time left before the first-token deadline.
func (w *watchdog) firstTokenLeft() time.Duration {
	return w.t.FirstToken - w.since()
}

func (w *watchdog) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	w.total.Stop()
	w.phase.Stop()
}
