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
	"github.com/kefuhq/kefu/router"
)

// typingEvery re-sends the bot's typing indicator while it waits for the
// first token, since clients hide a typing indicator that is not renewed.
const typingEvery = 3 * time.Second

// stream is the AI answer being streamed into one conversation.
type stream struct {
	conv        string
	topic       string // chat.Topic(conv), made once: deltas are published per word
	visitor     string
	fingerprint string
	candidates  []ai.Grounding // guarded by Flow.mu

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

// StartAI answers the conversation with the AI, unless an answer is
// already streaming there: then that one finishes and the AI answers again
// with the newer messages in view. candidates are FAQ answers the question
// may mean (ai.GroundCandidate: the intent router was unsure between
// them); they ground the answer first, before the best FAQ answers and
// knowledge-base passages (Grounding). nil for none.
func (f *Flow) StartAI(convID, visitorID, fingerprint string, candidates []ai.Grounding) {
	f.mu.Lock()
	node := ""
	if f.opts.Peers != nil {
		node = f.elsewhereLocked(convID)
	}
	if node == "" || f.active[convID] != nil || f.ctx.Err() != nil {
		f.startLocked(convID, visitorID, fingerprint, candidates)
		f.mu.Unlock()
		return
	}
	// Another node streams an answer here (the visitor's other tab): it
	// answers again after it, as this node would (with the history, not
	// this message's candidates).
	f.wg.Add(1)
	f.mu.Unlock()
	go func() {
		defer f.wg.Done()
		if f.askAgain(node, convID) {
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.startLocked(convID, visitorID, fingerprint, candidates)
	}()
}

func (f *Flow) startLocked(convID, visitorID, fingerprint string, candidates []ai.Grounding) {
	if st := f.active[convID]; st != nil {
		st.pending = true
		st.candidates = candidates
		return
	}
	if f.ctx.Err() != nil {
		return
	}
	st := &stream{conv: convID, topic: chat.Topic(convID), visitor: visitorID, fingerprint: fingerprint, candidates: candidates}
	f.active[convID] = st
	f.wg.Add(1)
	f.announceStreaming(convID, true)
	go f.run(st)
}

// stopWait bounds how long StopAI waits for the cut answer to be stored.
const stopWait = 3 * time.Second

// StopAI ends the answer streaming in a conversation because a person took
// over; what was said is kept, marked incomplete. It returns once that is
// stored, so the transcript shows the cut answer before whatever the
// caller stores next ("Mei joined the chat"). In a cluster it stops the
// answer on whichever node streams it.
func (f *Flow) StopAI(convID string) {
	if !f.stopLocal(convID) {
		f.stopElsewhere(convID)
	}
}

// stopLocal stops an answer streaming on this node; false if there is none.
func (f *Flow) stopLocal(convID string) bool {
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
	return st != nil
}

// Streaming reports whether an AI answer is streaming in a conversation
// (on any node).
func (f *Flow) Streaming(convID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active[convID] != nil || (f.opts.Peers != nil && f.elsewhereLocked(convID) != "")
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
		f.snapshotElsewhere(sub, convID)
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
			f.announceStreaming(st.conv, false)
			return
		}
		st.pending = false
		f.mu.Unlock()
	}
}

// answerOnce streams one answer and stores it. It reports whether the AI
// may answer again (false after a hand-off).
func (f *Flow) answerOnce(ctx context.Context, st *stream) bool {
	topic := st.topic
	set := f.settings.Get()
	history, question, used, err := f.history(st.conv, set)
	if err != nil {
		f.log.Error("bot: read history", "conversation", st.conv, "err", err)
		return false
	}
	storeCtx := context.WithoutCancel(ctx)
	if over(set.AnswersPerVisitorHour, used.hour) || over(set.AnswersPerConversation, used.day) {
		f.log.Info("bot: AI answer cap reached; handing off", "conversation", st.conv, "last_hour", used.hour, "last_day", used.day)
		f.Handoff(storeCtx, st.conv, reasonLimit, question, "")
		return false
	}
	f.mu.Lock()
	candidates := st.candidates
	f.mu.Unlock()
	st.mu.Lock()
	st.id, st.index = store.NewID(), 0
	st.text.Reset()
	st.mu.Unlock()

	stopWatch := f.watchListeners(ctx, st)
	defer stopWatch()
	stopTyping := f.keepTyping(ctx, topic, st.conv)
	silence := f.watchSilence(ctx, topic, st.conv)

	_, _, modelHash := f.intents.Model()
	grounding := f.Grounding(question, candidates)
	req := ai.Request{
		Settings: set, Grounding: grounding, GroundingVersion: modelHash + f.knowledgeVersion(),
		History: history, Visitor: st.visitor, Scope: st.fingerprint,
	}
	first := true
	res, err := f.ai.Answer(ctx, req, func(text string) error {
		silence.delta()
		f.publishDelta(st, text)
		if first {
			// After the piece: the indicator's end must not delay it.
			first = false
			stopTyping()
		}
		return nil
	})
	stopTyping()
	silence.stop()
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
	if err == nil {
		if links := sources(grounding, said); len(links) > 0 {
			line := sourceLine(f.lang(st.conv, question), links)
			f.publishDelta(st, line)
			said += line
		}
	}
	asked := errors.Is(err, ai.ErrHandoff)
	if err == nil || strings.TrimSpace(said) != "" {
		_, serr := f.store.Append(storeCtx, st.conv, store.NewMessage{
			From: protocol.FromBot, Author: AuthorAI, Text: orEllipsis(said), Via: "ai",
			Incomplete: err != nil && !asked, StreamID: st.id,
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

// publishDelta sends the next piece of the answer to every connection of
// the conversation and keeps it for connections that join later.
func (f *Flow) publishDelta(st *stream, text string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.index++
	st.text.WriteString(text)
	f.hub.Publish(st.topic, hub.DeltaFrame(protocol.Delta{Type: protocol.TypeDelta, ConversationID: st.conv, StreamID: st.id, Index: st.index, Text: text}))
}

// over reports whether used reached a cap (0: no cap).
func over(limit, used int) bool { return limit > 0 && used >= limit }

// Grounding is what an answer to question is grounded on, best first: the
// candidate answers (ai.GroundCandidate) the caller passes, then the best
// matching FAQ answers, then the best knowledge-base passages. Never a
// hand-off intent's text: it is what the relay says when it hands off,
// not business information.
func (f *Flow) Grounding(question string, candidates []ai.Grounding) []ai.Grounding {
	const faqs, passages = 3, 3
	out := append([]ai.Grounding(nil), candidates...)
	if m, _, _ := f.intents.Model(); m != nil {
		n := 0
		for _, in := range m.Grounding(question, faqs+2) {
			if n == faqs || in.Action == router.ActionHandoff || strings.TrimSpace(in.Answer) == "" || has(candidates, in.Name) {
				continue
			}
			out = append(out, ai.Grounding{Kind: ai.GroundFAQ, Name: in.Name, Answer: in.Answer})
			n++
		}
	}
	if f.opts.Knowledge != nil {
		out = append(out, f.opts.Knowledge.Passages(question, passages)...)
	}
	return out
}

func has(gs []ai.Grounding, name string) bool {
	for _, g := range gs {
		if g.Name == name {
			return true
		}
	}
	return false
}

// knowledgeVersion is part of the answer cache key: an article edited
// must not be answered from the old text.
func (f *Flow) knowledgeVersion() string {
	if v, ok := f.opts.Knowledge.(interface{ Version() string }); ok {
		return "/" + v.Version()
	}
	return ""
}

func orEllipsis(s string) string {
	if strings.TrimSpace(s) == "" {
		return "…"
	}
	return s
}

// used counts the AI answers of a conversation over the caps' windows.
type used struct{ hour, day int }

// capWindow bounds the messages read to count answers for the caps: more
// than any conversation holds in a day.
const capWindow = 1000

// history turns the conversation's recent messages into AI turns and
// returns the newest visitor text (the question), and counts the AI
// answers of the last hour and day when set caps them.
func (f *Flow) history(convID string, set ai.Settings) ([]ai.Turn, string, used, error) {
	conv, err := f.store.Conversation(convID)
	if err != nil {
		return nil, "", used{}, err
	}
	window := uint64(f.opts.HistoryMessages)
	if set.AnswersPerVisitorHour > 0 || set.AnswersPerConversation > 0 {
		window = max(window, capWindow)
	}
	from := uint64(0)
	if conv.LastSeq > window {
		from = conv.LastSeq - window
	}
	msgs, err := f.store.Messages(convID, from, 0)
	if err != nil {
		return nil, "", used{}, err
	}
	var u used
	now := time.Now()
	for _, m := range msgs {
		if m.From == protocol.FromBot && m.Via == "ai" {
			if now.Sub(m.Time) < time.Hour {
				u.hour++
			}
			if now.Sub(m.Time) < 24*time.Hour {
				u.day++
			}
		}
	}
	if len(msgs) > f.opts.HistoryMessages {
		msgs = msgs[len(msgs)-f.opts.HistoryMessages:]
	}
	var turns []ai.Turn
	question := ""
	for _, m := range msgs {
		if m.Attachment != nil {
			// The model sees that a file was sent, not the file, and never
			// takes a file name for the question.
			role := ai.RoleVisitor
			if m.From == protocol.FromAgent {
				role = ai.RoleAgent
			}
			turns = append(turns, ai.Turn{Role: role, Text: "[sent a file: " + m.Attachment.Name + "]"})
			continue
		}
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
	return turns, question, u, nil
}

// keepTyping shows the bot typing until the returned stop is called.
// Timers, not goroutines, keep the watches of an answer (keepTyping,
// watchListeners, watchSilence): an answer's start makes no goroutine
// that must run at once, and on a busy relay every runnable goroutine
// delays the first pieces of the answers already streaming.
func (f *Flow) keepTyping(ctx context.Context, topic, convID string) (stop func()) {
	frame := func(on bool) hub.Frame {
		fr := hub.NewFrame(protocol.TypingOut{Type: protocol.TypeTyping, ConversationID: convID, From: protocol.FromBot, Author: AuthorAI, On: on})
		fr.Stream = true
		return fr
	}
	f.hub.Publish(topic, frame(true))
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	mu.Lock() // the callback reads t
	t = time.AfterFunc(typingEvery, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped || ctx.Err() != nil {
			return
		}
		f.hub.Publish(topic, frame(true))
		t.Reset(typingEvery)
	})
	mu.Unlock()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		stopped = true
		t.Stop()
		if ctx.Err() == nil { // a canceled answer's end says the rest
			f.hub.Publish(topic, frame(false))
		}
	}
}

// watchListeners cancels the answer once nobody has been listening to the
// conversation for AbandonAfter: no socket, no SSE stream, and no plain
// HTTP client within PollGrace. The answer can no longer reach anyone and
// was not asked for again (policy in docs/ai.md).
func (f *Flow) watchListeners(ctx context.Context, st *stream) (stop func()) {
	step := min(time.Second, f.opts.AbandonAfter/4)
	var (
		mu      sync.Mutex
		stopped bool
		alone   time.Duration
		t       *time.Timer
	)
	check := func() {
		mu.Lock()
		gone := stopped
		mu.Unlock()
		if gone || ctx.Err() != nil {
			return
		}
		// Asked without mu: a peer's answer may take a while, and stop
		// does not wait for it.
		heard := f.hub.Listening(st.topic, f.opts.PollGrace) || f.listenedElsewhere(ctx, st.conv)
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if heard {
			alone = 0
		} else if alone += step; alone >= f.opts.AbandonAfter {
			f.mu.Lock()
			st.abandoned = true
			if st.cancel != nil {
				st.cancel()
			}
			f.mu.Unlock()
			return
		}
		t.Reset(step)
	}
	mu.Lock() // check reads t
	t = time.AfterFunc(step, check)
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}

// saveBudget has the token budget's usage stored within BudgetSaveEvery
// and tells a cluster's other nodes what this answer spent.
func (f *Flow) saveBudget() {
	if f.budget == nil {
		return
	}
	f.saver.changed()
	f.tellSpent()
}
