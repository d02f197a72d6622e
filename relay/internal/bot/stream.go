package bot

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/visitor"
	"github.com/kefuhq/kefu/relay/protocol"
)

// typingEvery re-sends the bot's typing indicator while it waits for the
// first token, since clients hide a typing indicator that is not renewed.
const typingEvery = 3 * time.Second

// stream is the AI answer being streamed into one conversation.
type stream struct {
	conv        string
	visitor     string
	fingerprint string

	cancel context.CancelFunc

	// mu orders deltas and snapshots: a connection that joins mid-answer
	// gets the text so far and then only later deltas.
	mu    sync.Mutex
	id    string
	index int
	text  strings.Builder

	// Guarded by Flow.mu.
	pending   bool          // a newer visitor message arrived: answer again after
	stopped   bool          // a person took over: stop without a hand-off
	abandoned bool          // nobody was connected to receive it
	settled   chan struct{} // closed once the current answer is stored
}

// startAI answers the conversation with the AI, unless an answer is
// already streaming there: then that one finishes and the AI answers again
// with the newer messages in view.
func (f *Flow) startAI(convID, visitorID, fingerprint, question string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st := f.active[convID]; st != nil {
		st.pending = true
		return
	}
	if f.ctx.Err() != nil {
		return
	}
	st := &stream{conv: convID, visitor: visitorID, fingerprint: fingerprint}
	f.active[convID] = st
	f.wg.Add(1)
	go f.run(st)
}

// stopWait bounds how long StopAI waits for the cut answer to be stored.
const stopWait = 3 * time.Second

// StopAI ends the answer streaming in a conversation because a person took
// over; what was said is kept, marked incomplete. It returns once that is
// stored, so the transcript shows the cut answer before whatever the
// caller stores next ("Mei joined the chat").
func (f *Flow) StopAI(convID string) {
	f.mu.Lock()
	st := f.active[convID]
	var settled chan struct{}
	if st != nil {
		st.stopped = true
		st.pending = false
		if st.cancel != nil {
			st.cancel()
		}
		settled = st.settled
	}
	f.mu.Unlock()
	if settled != nil {
		select {
		case <-settled:
		case <-time.After(stopWait):
		}
	}
}

// Streaming reports whether an AI answer is streaming in a conversation.
func (f *Flow) Streaming(convID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active[convID] != nil
}

// Joined is the visitor hook for a connection that just joined: if an
// answer is streaming, it gets the text so far as one delta with index 0
// (replace, not append); later deltas follow.
func (f *Flow) Joined(sub hub.Subscriber, s *visitor.Session) {
	f.SendSnapshot(sub, s.ConversationID)
}

// SendSnapshot queues the streaming answer's text so far on sub.
func (f *Flow) SendSnapshot(sub hub.Subscriber, convID string) {
	f.mu.Lock()
	st := f.active[convID]
	f.mu.Unlock()
	if st == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.id != "" && st.text.Len() > 0 {
		sub.Send(hub.DeltaFrame(protocol.Delta{Type: protocol.TypeDelta, ConversationID: convID, StreamID: st.id, Index: 0, Text: st.text.String()}))
	}
}

func (f *Flow) run(st *stream) {
	defer f.wg.Done()
	for {
		ctx, cancel := context.WithCancel(f.ctx)
		settled := make(chan struct{})
		f.mu.Lock()
		st.cancel, st.settled = cancel, settled
		stopped := st.stopped
		f.mu.Unlock()
		if stopped {
			cancel()
		}
		again := f.answerOnce(ctx, st)
		cancel()
		close(settled)
		f.mu.Lock()
		if !again || !st.pending || st.stopped || f.ctx.Err() != nil {
			delete(f.active, st.conv)
			f.mu.Unlock()
			return
		}
		st.pending = false
		f.mu.Unlock()
	}
}

// answerOnce streams one answer and stores it. It reports whether the AI
// may answer again (false after a hand-off).
func (f *Flow) answerOnce(ctx context.Context, st *stream) bool {
	topic := chat.Topic(st.conv)
	history, question, err := f.history(st.conv)
	if err != nil {
		f.log.Error("bot: read history", "conversation", st.conv, "err", err)
		return false
	}
	st.mu.Lock()
	st.id, st.index = store.NewID(), 0
	st.text.Reset()
	st.mu.Unlock()

	stopWatch := f.watchListeners(ctx, st)
	defer stopWatch()
	stopTyping := f.keepTyping(ctx, topic, st.conv)

	_, _, modelHash := f.intents.Model()
	var grounding []ai.Grounding
	if m, _, _ := f.intents.Model(); m != nil {
		for _, in := range m.Grounding(question, 3) {
			grounding = append(grounding, ai.Grounding{Name: in.Name, Answer: in.Answer})
		}
	}
	req := ai.Request{
		Settings: f.settings.Get(), Grounding: grounding, GroundingVersion: modelHash,
		History: history, Visitor: st.visitor, Scope: st.fingerprint,
	}
	first := true
	res, err := f.ai.Answer(ctx, req, func(text string) error {
		if first {
			first = false
			stopTyping()
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		st.index++
		st.text.WriteString(text)
		f.hub.Publish(topic, hub.DeltaFrame(protocol.Delta{Type: protocol.TypeDelta, ConversationID: st.conv, StreamID: st.id, Index: st.index, Text: text}))
		return nil
	})
	stopTyping()
	f.saveBudget()

	f.mu.Lock()
	stopped, abandoned := st.stopped, st.abandoned
	f.mu.Unlock()
	// Store what the visitor saw even if the stream broke: the transcript
	// must match the screen.
	said := res.Text
	if said == "" {
		st.mu.Lock()
		said = st.text.String()
		st.mu.Unlock()
	}
	storeCtx := context.WithoutCancel(ctx)
	if err == nil || strings.TrimSpace(said) != "" {
		_, serr := f.store.Append(storeCtx, st.conv, store.NewMessage{
			From: protocol.FromBot, Author: AuthorAI, Text: orEllipsis(said), Via: "ai",
			Incomplete: err != nil, StreamID: st.id,
		})
		if serr != nil {
			f.log.Error("bot: store AI answer", "conversation", st.conv, "err", serr)
		}
	}
	st.mu.Lock()
	if st.index > 0 { // a stream that never started has nothing to close
		f.hub.Publish(topic, hub.DeltaFrame(protocol.Delta{Type: protocol.TypeDelta, ConversationID: st.conv, StreamID: st.id, Index: st.index + 1, Done: true}))
	}
	st.mu.Unlock()
	if err == nil {
		return true
	}
	switch {
	case stopped:
		f.log.Info("bot: AI stopped: a person took over", "conversation", st.conv)
	case abandoned:
		f.log.Info("bot: AI answer abandoned: nobody connected", "conversation", st.conv)
	case f.ctx.Err() != nil:
		f.log.Info("bot: AI answer cut by shutdown", "conversation", st.conv)
	default:
		f.log.Warn("bot: AI could not answer; handing off", "conversation", st.conv, "err", err)
		f.Handoff(storeCtx, st.conv, reasonFor(err), question, "")
	}
	return false
}

func orEllipsis(s string) string {
	if strings.TrimSpace(s) == "" {
		return "…"
	}
	return s
}

// history turns the conversation's recent messages into AI turns and
// returns the newest visitor text (the question).
func (f *Flow) history(convID string) ([]ai.Turn, string, error) {
	conv, err := f.store.Conversation(convID)
	if err != nil {
		return nil, "", err
	}
	from := uint64(0)
	if conv.LastSeq > uint64(f.opts.HistoryMessages) {
		from = conv.LastSeq - uint64(f.opts.HistoryMessages)
	}
	msgs, err := f.store.Messages(convID, from, 0)
	if err != nil {
		return nil, "", err
	}
	var turns []ai.Turn
	question := ""
	for _, m := range msgs {
		switch m.From {
		case protocol.FromVisitor:
			turns = append(turns, ai.Turn{Role: ai.RoleVisitor, Text: m.Text})
			question = m.Text
		case protocol.FromBot:
			turns = append(turns, ai.Turn{Role: ai.RoleBot, Text: m.Text})
		case protocol.FromAgent:
			turns = append(turns, ai.Turn{Role: ai.RoleAgent, Text: m.Text})
		}
	}
	return turns, question, nil
}

// keepTyping shows the bot typing until the returned stop is called.
func (f *Flow) keepTyping(ctx context.Context, topic, convID string) (stop func()) {
	frame := func(on bool) hub.Frame {
		return hub.NewFrame(protocol.TypingOut{Type: protocol.TypeTyping, ConversationID: convID, From: protocol.FromBot, Author: AuthorAI, On: on})
	}
	f.hub.Publish(topic, frame(true))
	done := make(chan struct{})
	var once sync.Once
	go func() {
		t := time.NewTicker(typingEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				f.hub.Publish(topic, frame(true))
			case <-done:
				f.hub.Publish(topic, frame(false))
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// watchListeners cancels the answer once nobody has been connected to the
// conversation for AbandonAfter: the answer can no longer reach anyone and
// was not asked for again (policy in docs/ai.md).
func (f *Flow) watchListeners(ctx context.Context, st *stream) (stop func()) {
	done := make(chan struct{})
	go func() {
		step := min(time.Second, f.opts.AbandonAfter/4)
		t := time.NewTicker(step)
		defer t.Stop()
		var alone time.Duration
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if f.hub.Subscribers(chat.Topic(st.conv)) > 0 {
				alone = 0
				continue
			}
			if alone += step; alone >= f.opts.AbandonAfter {
				f.mu.Lock()
				st.abandoned = true
				if st.cancel != nil {
					st.cancel()
				}
				f.mu.Unlock()
				return
			}
		}
	}()
	return func() { close(done) }
}

func (f *Flow) saveBudget() {
	if f.budget == nil {
		return
	}
	if err := f.store.PutSetting(context.Background(), settingBudget, f.budget.Snapshot()); err != nil && !errors.Is(err, store.ErrClosed) {
		f.log.Error("bot: save budget", "err", err)
	}
}
