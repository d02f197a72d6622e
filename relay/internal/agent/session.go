package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/internal/assign"
	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/limits"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// maxRejects is how many invalid frames in a row end the socket (1008).
const maxRejects = 20

// session is one agent connection.
type session struct {
	h          *Handler
	c          *hub.Conn
	acct       store.Account
	sid        string
	watched    map[string]bool // reader goroutine only
	rejects    int
	frames     *limits.Frames
	lastTyping time.Time
}

// typingEvery thins out typing frames within their rate: an "on" sooner
// than this after the last one is dropped silently.
const typingEvery = 500 * time.Millisecond

// frameRates is what one console may send, per frame type
// (docs/console.md): people type and click fast, but not as fast as a
// script. A watch replays history, so it is not free either.
func frameRates() map[string]limits.Rate {
	return map[string]limits.Rate{
		protocol.TypeMessage:  {PerSecond: 10, Burst: 20},
		protocol.TypeTyping:   {PerSecond: 4, Burst: 8},
		protocol.TypeWatch:    {PerSecond: 10, Burst: 30},
		protocol.TypeUnwatch:  {PerSecond: 10, Burst: 30},
		protocol.TypeTake:     {PerSecond: 2, Burst: 10},
		protocol.TypeTransfer: {PerSecond: 2, Burst: 10},
		protocol.TypeClose:    {PerSecond: 2, Burst: 10},
		protocol.TypePresence: {PerSecond: 1, Burst: 5},
		protocol.TypeNote:     {PerSecond: 10, Burst: 20},
		limits.AnyFrame:       {PerSecond: 40, Burst: 100},
	}
}

func (s *session) run(ctx context.Context) websocket.StatusCode {
	timer := time.AfterFunc(s.h.opts.HelloTimeout, func() {
		s.c.CloseBeforeStart(protocol.CloseHelloTimeout, string(protocol.CodeHelloTimeout))
	})
	var hello *protocol.AgentHello
	for hello == nil {
		data, err := s.c.Read(ctx)
		if err != nil {
			timer.Stop()
			s.c.Abort()
			return s.c.CloseCode()
		}
		v, err := protocol.DecodeAgent(data)
		if err == nil {
			if h, ok := v.(*protocol.AgentHello); ok {
				hello = h
				continue
			}
			err = protocol.Errorf(protocol.CodeHelloFirst, "")
		}
		s.rejects++
		if s.rejects > maxRejects {
			timer.Stop()
			s.c.CloseBeforeStart(protocol.ClosePolicy, "too many invalid frames")
			return s.c.CloseCode()
		}
		s.c.WriteNow(ctx, errorFrame(err, "", v))
	}
	s.rejects = 0
	if !timer.Stop() {
		s.c.Abort()
		return s.c.CloseCode()
	}
	s.frames = limits.NewFrames(frameRates(), nil)
	// Counted as connected (with the status the console asked for) before
	// the welcome, so the welcome shows the agent as they are.
	s.h.router.Connected(ctx, s.acct, hello.Status)
	defer s.h.router.Disconnected(s.acct.ID)
	if err := s.welcome(ctx, hello.Positions); err != nil {
		s.h.log.Error("agent: welcome", "agent", s.acct.ID, "err", err)
		s.c.CloseBeforeStart(protocol.CloseInternal, "could not load the inbox")
		return s.c.CloseCode()
	}
	stop := s.recheck()
	defer stop()
	s.loop(ctx)
	s.c.Close(protocol.CloseNormal, "")
	s.c.Wait()
	return s.c.CloseCode()
}

// welcome writes the inbox, then subscribes to inbox changes and to the
// agent's own conversations.
func (s *session) welcome(ctx context.Context, positions map[string]uint64) error {
	open, err := s.h.store.Conversations(func(c *store.Conversation) bool { return c.Status == store.StatusOpen })
	if err != nil {
		return err
	}
	w := protocol.AgentWelcome{Type: protocol.TypeWelcome, Agent: s.h.router.Info(s.acct.ID), Agents: s.h.router.Agents(), Conversations: []protocol.Conversation{},
		PingMS: s.h.opts.Conn.PingInterval.Milliseconds()}
	w.Agent.Username, w.Agent.Name, w.Agent.Role = s.acct.Username, s.acct.Name, s.acct.Role
	var mine []string
	others := 0
	for _, c := range open {
		own := c.Handler == store.HandlerAgent && c.AgentID == s.acct.ID
		if own {
			mine = append(mine, c.ID)
		}
		if own || c.Handler == store.HandlerQueue || others < inboxOthers {
			if !own && c.Handler != store.HandlerQueue {
				others++
			}
			w.Conversations = append(w.Conversations, s.h.router.Summary(c))
		}
	}
	// Subscribe to the inbox before writing the welcome: a change between
	// the two arrives as an update, never lost.
	s.h.hub.Subscribe(assign.InboxTopic, s.c)
	if err := s.c.WriteNow(ctx, hub.NewFrame(w)); err != nil {
		return err
	}
	s.c.Start()
	for _, id := range mine {
		if err := s.h.watch(s.c, id, positions[id]); err != nil {
			return err
		}
		s.watched[id] = true
	}
	return nil
}

// recheck closes the socket when its session has expired meanwhile.
func (s *session) recheck() (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(s.h.opts.Recheck)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-s.c.Closing():
				return
			case <-t.C:
				if _, _, err := s.h.authn.Svc.Check(context.Background(), s.sid); err != nil {
					s.c.Close(protocol.CloseUnauthorized, "session ended")
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

func (s *session) loop(ctx context.Context) {
	for {
		data, err := s.c.Read(ctx)
		if err != nil {
			return
		}
		v, err := protocol.DecodeAgent(data)
		if !s.frames.Any() || (err == nil && !s.frames.Allow(frameType(v))) {
			// Over its rate: refused, and a flood once refusals go unheeded.
			s.h.metrics.FrameErrors.WithLabelValues(string(protocol.CodeRateLimited)).Inc()
			if s.frames.Refused() {
				s.c.Close(protocol.CloseFlood, "far over the rate after repeated rate_limited errors")
				return
			}
			s.c.Send(errorFrame(protocol.Errorf(protocol.CodeRateLimited, ""), idOf(v), v))
			continue
		}
		if err == nil {
			err = s.handle(ctx, v)
		}
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) {
				s.h.log.Error("agent: frame", "agent", s.acct.ID, "err", err)
			}
			s.h.metrics.FrameErrors.WithLabelValues(string(asProtocolError(err).Code)).Inc()
			s.rejects++
			if s.rejects > maxRejects {
				s.c.Close(protocol.ClosePolicy, "too many invalid frames")
				return
			}
			s.c.Send(errorFrame(err, idOf(v), v))
			continue
		}
		s.rejects = 0
	}
}

// frameType is a decoded agent frame's type.
func frameType(v any) string {
	switch f := v.(type) {
	case *protocol.AgentHello:
		return f.Type
	case *protocol.Watch:
		return f.Type
	case *protocol.ConvRef:
		return f.Type
	case *protocol.AgentSend:
		return f.Type
	case *protocol.AgentTyping:
		return f.Type
	case *protocol.Transfer:
		return f.Type
	case *protocol.Presence:
		return f.Type
	case *protocol.AgentNote:
		return f.Type
	}
	return ""
}

func idOf(v any) string {
	switch m := v.(type) {
	case *protocol.AgentSend:
		return m.ID
	case *protocol.AgentNote:
		return m.ID
	}
	return ""
}

func (s *session) handle(ctx context.Context, v any) error {
	switch f := v.(type) {
	case *protocol.AgentHello:
		return protocol.Errorf(protocol.CodeBadFrame, "hello was already received")
	case *protocol.Watch:
		if err := s.h.watch(s.c, f.ConversationID, f.LastSeq); err != nil {
			return err
		}
		s.watched[f.ConversationID] = true
	case *protocol.ConvRef:
		return s.convAction(ctx, f)
	case *protocol.AgentSend:
		return s.reply(ctx, f)
	case *protocol.AgentTyping:
		now := time.Now()
		if f.On && now.Sub(s.lastTyping) < typingEvery {
			return nil
		}
		s.lastTyping = now
		tf := hub.NewFrame(protocol.TypingOut{Type: protocol.TypeTyping, ConversationID: f.ConversationID, From: protocol.FromAgent, Author: s.acct.Name, AuthorID: s.acct.ID, On: f.On})
		tf.Conv = f.ConversationID
		s.h.hub.PublishExcept(chat.Topic(f.ConversationID), tf, s.c)
	case *protocol.Transfer:
		return actionError(s.h.router.Transfer(ctx, f.ConversationID, f.To, s.acct))
	case *protocol.Presence:
		s.h.router.SetStatus(ctx, s.acct.ID, f.Status)
	case *protocol.AgentNote:
		return s.note(ctx, f)
	}
	return nil
}

func (s *session) convAction(ctx context.Context, f *protocol.ConvRef) error {
	switch f.Type {
	case protocol.TypeUnwatch:
		s.h.hub.Unsubscribe(chat.Topic(f.ConversationID), s.c)
		s.h.hub.Unsubscribe(NotesTopic(f.ConversationID), s.c)
		delete(s.watched, f.ConversationID)
		return nil
	case protocol.TypeTake:
		_, err := s.h.router.Take(ctx, f.ConversationID, s.acct)
		return actionError(err)
	case protocol.TypeClose:
		return actionError(s.h.router.Close(ctx, f.ConversationID, s.acct))
	}
	return protocol.Errorf(protocol.CodeUnknownType, "")
}

// reply stores an agent's message. Replying to a conversation no person
// handles takes it over first; a colleague's stays theirs.
func (s *session) reply(ctx context.Context, f *protocol.AgentSend) error {
	if len(f.Text) > s.h.opts.MaxMessageBytes {
		return protocol.Errorf(protocol.CodeMessageTooLong, fmt.Sprintf("message is %d bytes; the limit is %d", len(f.Text), s.h.opts.MaxMessageBytes))
	}
	conv, err := s.h.store.Conversation(f.ConversationID)
	if errors.Is(err, store.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "no such conversation")
	}
	if err != nil {
		return protocol.Errorf(protocol.CodeStorage, "")
	}
	if conv.Status == store.StatusOpen && conv.Handler != store.HandlerAgent {
		if _, err := s.h.router.Take(ctx, f.ConversationID, s.acct); err != nil && !errors.Is(err, assign.ErrAlreadyTaken) {
			return actionError(err)
		}
	}
	a, err := s.h.store.Append(ctx, f.ConversationID, store.NewMessage{
		ClientID: f.ID, From: protocol.FromAgent, AuthorID: s.acct.ID, Author: s.acct.Name, Text: f.Text,
	})
	if err != nil {
		s.h.log.Error("agent: store reply", "conversation", f.ConversationID, "err", err)
		return protocol.Errorf(protocol.CodeStorage, "")
	}
	s.h.metrics.Acks.WithLabelValues(fmt.Sprint(a.Duplicate[0])).Inc()
	s.c.Send(hub.NewFrame(protocol.Ack{Type: protocol.TypeAck, ID: f.ID, Seq: a.Messages[0].Seq, Duplicate: a.Duplicate[0], ConversationID: f.ConversationID}))
	if !s.watched[f.ConversationID] {
		// Show the agent the conversation they just wrote in.
		if err := s.h.watch(s.c, f.ConversationID, 0); err == nil {
			s.watched[f.ConversationID] = true
		}
	}
	return nil
}

// actionError turns a router error into a protocol error for the agent.
func actionError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return protocol.Errorf(protocol.CodeNotFound, "no such conversation")
	case errors.Is(err, assign.ErrNotOpen):
		return protocol.Errorf(protocol.CodeConflict, assign.ErrNotOpen.Error())
	case errors.Is(err, assign.ErrNoSuchAgent):
		return protocol.Errorf(protocol.CodeNotFound, assign.ErrNoSuchAgent.Error())
	case errors.Is(err, assign.ErrAlreadyTaken):
		return protocol.Errorf(protocol.CodeConflict, assign.ErrAlreadyTaken.Error())
	}
	return protocol.Errorf(protocol.CodeStorage, "")
}

func asProtocolError(err error) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	return protocol.Errorf(protocol.CodeInternal, "")
}

// errorFrame reports err about frame v (nil if it did not decode), naming
// its conversation and action so the console knows what failed.
func errorFrame(err error, id string, v any) hub.Frame {
	pe := asProtocolError(err)
	e := protocol.ErrorFrame{Type: protocol.TypeError, Code: pe.Code, Message: pe.Message, ID: id}
	switch f := v.(type) {
	case *protocol.Watch:
		e.ConversationID, e.Action = f.ConversationID, f.Type
	case *protocol.ConvRef:
		e.ConversationID, e.Action = f.ConversationID, f.Type
	case *protocol.AgentSend:
		e.ConversationID, e.Action = f.ConversationID, f.Type
	case *protocol.AgentTyping:
		e.ConversationID, e.Action = f.ConversationID, f.Type
	case *protocol.Transfer:
		e.ConversationID, e.Action = f.ConversationID, f.Type
	case *protocol.Presence:
		e.Action = f.Type
	case *protocol.AgentNote:
		e.ConversationID, e.Action = f.ConversationID, f.Type
	}
	return hub.NewFrame(e)
}
