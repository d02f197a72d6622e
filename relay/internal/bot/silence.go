package bot

import (
	"context"
	"sync"
	"time"

	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/protocol"
)

// silence shows the visitor that the assistant is still working when an
// answer pauses mid-way: a typing frame with status "working" after
// StillWorkingAfter without a delta, taken back by the next delta.
type silence struct {
	f      *Flow
	topic  string
	conv   string
	mu     sync.Mutex
	last   time.Time // the last delta; zero before the first
	shown  bool
	t      *time.Timer
	closed bool
}

// watchSilence starts watching; call delta on every delta and stop at the
// end. A timer checks (keepTyping says why not a goroutine).
func (f *Flow) watchSilence(ctx context.Context, topic, conv string) *silence {
	s := &silence{f: f, topic: topic, conv: conv}
	step := max(f.opts.StillWorkingAfter/4, 10*time.Millisecond)
	s.mu.Lock() // the callback reads s.t
	defer s.mu.Unlock()
	s.t = time.AfterFunc(step, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed || ctx.Err() != nil {
			return
		}
		if !s.shown && !s.last.IsZero() && time.Since(s.last) >= f.opts.StillWorkingAfter {
			s.shown = true
			f.hub.Publish(topic, s.frame(true, protocol.TypingWorking))
		}
		s.t.Reset(step)
	})
	return s
}

func (s *silence) frame(on bool, status string) hub.Frame {
	f := hub.NewFrame(protocol.TypingOut{Type: protocol.TypeTyping, ConversationID: s.conv, From: protocol.FromBot, Author: AuthorAI, On: on, Status: status})
	f.Stream = true
	return f
}

// delta records a delta; a "still working" shown is taken back.
func (s *silence) delta() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = time.Now()
	if s.shown {
		s.shown = false
		s.f.hub.Publish(s.topic, s.frame(false, ""))
	}
}

// stop ends the watch; a "still working" shown is taken back.
func (s *silence) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.t.Stop()
	if s.shown {
		s.shown = false
		s.f.hub.Publish(s.topic, s.frame(false, ""))
	}
}
