package ai

import (
	"context"
	"sync"
	"time"
)

// watchdog enforces Timeouts on one answer by cancelling its context with
// a *TimeoutError as the cause. Two timers: one for the whole answer, one
// for the current phase (first token, then the gap since the last chunk).
type watchdog struct {
	t      Timeouts
	cancel context.CancelCauseFunc
	total  *time.Timer
	phase  *time.Timer

	mu         sync.Mutex
	started    time.Time
	firstToken bool
}

func newWatchdog(t Timeouts, cancel context.CancelCauseFunc) *watchdog {
	w := &watchdog{t: t, cancel: cancel, started: time.Now()}
	w.total = time.AfterFunc(t.Answer, func() {
		cancel(&TimeoutError{Phase: "answer", After: t.Answer})
	})
	w.phase = time.AfterFunc(t.FirstToken, func() {
		w.mu.Lock()
		err := &TimeoutError{Phase: "first token", After: t.FirstToken}
		if w.firstToken {
			err = &TimeoutError{Phase: "chunk gap", After: t.ChunkGap}
		}
		w.mu.Unlock()
		cancel(err)
	})
	return w
}

// chunk records that a chunk arrived; content says whether it carried text.
func (w *watchdog) chunk(content bool) {
	w.mu.Lock()
	if content {
		w.firstToken = true
	}
	first := w.firstToken
	w.mu.Unlock()
	if first {
		w.phase.Reset(w.t.ChunkGap)
	}
}

// firstTokenLeft is the time left before the first-token deadline.
func (w *watchdog) firstTokenLeft() time.Duration {
	return w.t.FirstToken - time.Since(w.started)
}

func (w *watchdog) stop() {
	w.total.Stop()
	w.phase.Stop()
}
