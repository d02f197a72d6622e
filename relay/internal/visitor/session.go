package visitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/jsonx"
	"github.com/kefuhq/kefu/relay/internal/limits"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/visitctx"
	"github.com/kefuhq/kefu/relay/protocol"
)

const (
	// replayPage bounds the messages held in memory while replaying.
	replayPage = 256
	// maxRejects is how many invalid frames in a row end the connection
	// (1008): a client that keeps sending garbage is broken or hostile.
	maxRejects = 20
	// typingEvery thins out typing frames within their rate: an "on" sooner
	// than this after the last one is dropped silently (others already
	// show the indicator).
	typingEvery = 500 * time.Millisecond
)

// frameRates is what one visitor connection may send, per frame type
// (docs/protocol.md, "Liveness and limits"). Messages go at the configured
// rate; the rest at what a widget needs with room to spare. The overall
// bucket also bounds frames that do not decode.
func frameRates(perConn float64) map[string]limits.Rate {
	msg := limits.Rate{PerSecond: perConn, Burst: limits.Burst(perConn)}
	return map[string]limits.Rate{
		protocol.TypeMessage:     msg,
		protocol.TypeTyping:      {PerSecond: 4, Burst: 8},
		protocol.TypeIdentify:    {PerSecond: 2, Burst: 10},
		protocol.TypeFingerprint: {PerSecond: 1, Burst: 4},
		limits.AnyFrame:          {PerSecond: msg.PerSecond + 10, Burst: msg.Burst + 30},
	}
}

// Session is one visitor connection after hello.
type Session struct {
	h   *Handler
	c   *hub.Conn
	ip  string
	log *slog.Logger

	VisitorID      string
	ConversationID string
	Fingerprint    string
	// Lang is the language the visitor's widget speaks (a catalogue's
	// tag; "" when it never said): FAQ answers are stored in it.
	Lang string
	// LangStored says Lang is what the store held for this request (the
	// HTTP API reads the visitor for each): an empty one then means the
	// visitor has none, and nobody need read the visitor again to know.
	LangStored bool

	// seen is what this connection told about the visitor (context.go);
	// context the visitor's stored context as this session last wrote it.
	seen    visitctx.Seen
	context store.VisitorContext
	// tokenHash is the hash of the token the visitor is known by.
	tokenHash []byte

	frames *limits.Frames
	// traits coalesces identify frames; made by the first one (most
	// sessions send none), nil until then.
	traits     *traits
	rejects    int
	lastTyping time.Time
}

// Conn is the session's connection.
func (s *Session) Conn() *hub.Conn { return s.c }

// run serves the connection until it ends and returns the close code;
// ua and origin are the upgrade request's headers, read at hello.
func (s *Session) run(ctx context.Context, ua, origin string) websocket.StatusCode {
	timer := time.AfterFunc(s.h.opts.HelloTimeout, func() {
		s.c.CloseBeforeStart(protocol.CloseHelloTimeout, string(protocol.CodeHelloTimeout))
	})
	hello, err := s.readHello(ctx)
	if !timer.Stop() || err != nil {
		s.c.Abort()
		return s.c.CloseCode()
	}
	if err := s.join(ctx, hello, ua, origin); err != nil {
		s.log.Info("visitor: join failed", "ip", s.ip, "err", err)
		var pe *protocol.Error
		if errors.As(err, &pe) {
			s.c.WriteNow(ctx, hub.NewFrame(protocol.ErrorFrame{Type: protocol.TypeError, Code: pe.Code, Message: pe.Message}))
			code := protocol.CloseInternal
			if pe.Code == protocol.CodeRateLimited {
				code = protocol.CloseFlood
			}
			s.c.CloseBeforeStart(code, string(pe.Code))
		} else {
			s.c.Abort()
		}
		return s.c.CloseCode()
	}
	s.c.Start()
	if s.h.hooks.Joined != nil {
		s.h.hooks.Joined(s.c, s)
	}
	s.loop(ctx)
	// Traits still waiting for their commit are stored, not lost.
	if err := s.traits.flush(ctx); err != nil {
		s.log.Info("visitor: traits at close", "visitor", s.VisitorID, "err", err)
	}
	// The reader is done: make sure the writer finishes too.
	s.c.Close(protocol.CloseNormal, "")
	s.c.Wait()
	return s.c.CloseCode()
}

// readHello waits for a valid hello, answering anything else with an error.
func (s *Session) readHello(ctx context.Context) (*protocol.Hello, error) {
	for {
		data, err := s.c.Read(ctx)
		if err != nil {
			return nil, err
		}
		v, err := protocol.Decode(data)
		if err == nil {
			if h, ok := v.(*protocol.Hello); ok {
				return h, nil
			}
			err = protocol.Errorf(protocol.CodeHelloFirst, "")
		}
		if !s.refuseNow(ctx, err) {
			return nil, errors.New("visitor: too many bad frames before hello")
		}
	}
}

// join resolves the visitor, subscribes, and writes welcome and the replay.
func (s *Session) join(ctx context.Context, hello *protocol.Hello, ua, origin string) error {
	s.seen = seenOf(ua, origin, hello)
	r, err := s.h.resolve(ctx, s.ip, hello, s.seen)
	if err != nil {
		return err
	}
	if r.visitor.Context != nil {
		s.context = *r.visitor.Context
	}
	s.VisitorID, s.ConversationID, s.Fingerprint, s.Lang = r.visitor.ID, r.conv.ID, hello.Fingerprint, r.visitor.Lang
	s.tokenHash = r.tokenHash
	s.frames = limits.NewFrames(s.h.rates, nil)

	// Subscribe before reading history: anything committed after the read
	// arrives through the queue, and the connection drops seqs it already
	// wrote, so the replay has neither gaps nor duplicates.
	s.h.hub.Subscribe(chat.Topic(r.conv.ID), s.c)
	s.h.hub.Subscribe(chat.VisitorTopic(r.conv.ID), s.c)
	s.h.hub.Subscribe(chat.AvailabilityTopic, s.c)
	err = s.c.WriteNow(ctx, hub.NewFrame(protocol.Welcome{
		Type: protocol.TypeWelcome, Token: r.token, ConversationID: r.conv.ID, Seq: r.conv.LastSeq,
		Resume: r.resume, Status: r.conv.Status, Handler: r.conv.Handler,
		PingMS: s.h.opts.Conn.PingInterval.Milliseconds(),
	}))
	if err == nil && !r.created {
		err = s.h.replay(r.conv.ID, r.from, func(f hub.Frame) error { return s.c.WriteNow(ctx, f) })
	}
	if err != nil {
		return fmt.Errorf("visitor: join: %w", err)
	}
	return nil
}

// resolved is who a hello (or an HTTP session start) turned out to be.
type resolved struct {
	visitor store.Visitor
	conv    store.Conversation
	token   string // non-empty when a new token was issued
	// tokenHash is the hash of the token the visitor is known by.
	tokenHash []byte
	resume    string
	from      uint64 // replay messages after this seq
	// created: this hello made the visitor and its conversation, which
	// is empty: only this connection holds the visitor's token, and a
	// message from anyone else (an agent) would have to be written in
	// the microseconds between the commit and the subscription, which
	// delivers everything after. No replay then, and no store read to
	// find nothing (a read of the message log per new visitor: part of
	// the garbage per connect, issue 16).
	created bool
}

// resolve finds the visitor for hello's token (or creates one), decides
// how the client's position (conversation id, last seq) can be resumed,
// and keeps the language its widget speaks.
func (h *Handler) resolve(ctx context.Context, ip string, hello *protocol.Hello, seen visitctx.Seen) (resolved, error) {
	token, convID, lastSeq, fingerprint := hello.Token, hello.ConversationID, hello.LastSeq, hello.Fingerprint
	r := resolved{resume: protocol.ResumeOK, from: lastSeq}
	var err error
	if token != "" {
		r.tokenHash = hashToken(token)
		r.visitor, err = h.store.VisitorByToken(r.tokenHash)
		if errors.Is(err, store.ErrNotFound) {
			// A token we never issued (or from a wiped relay): start over and
			// say so, so the client drops what it shows.
			r.resume = protocol.ResumeReset
		} else if err != nil {
			h.log.Error("visitor: find by token", "err", err)
			return r, protocol.Errorf(protocol.CodeStorage, "")
		}
	}
	if r.visitor.ID == "" {
		if token == "" {
			r.resume = protocol.ResumeNew
		}
		if !h.newPerIP.AllowAddress(ip) {
			h.metrics.FrameError(string(protocol.CodeRateLimited))
			return r, protocol.Errorf(protocol.CodeRateLimited, "too many new conversations from your address; try again in a minute")
		}
		r.token, r.tokenHash = newToken(time.Now())
		// Its language and context go into the commit that creates it:
		// keepLang and keepContext below then find nothing to write, and
		// the welcome waits for one commit, not three.
		if r.visitor, r.conv, err = h.store.CreateVisitor(ctx, r.tokenHash, fingerprint, h.fillNew(hello.Lang, seen)); err != nil {
			h.log.Error("visitor: create", "err", err)
			return r, protocol.Errorf(protocol.CodeStorage, "could not start a conversation; try again")
		}
		r.created = true
	} else if r.conv, err = h.store.Conversation(r.visitor.ConversationID); err != nil {
		h.log.Error("visitor: load conversation", "visitor", r.visitor.ID, "err", err)
		return r, protocol.Errorf(protocol.CodeStorage, "")
	}
	if r.resume == protocol.ResumeOK && ((convID != "" && convID != r.conv.ID) || lastSeq > r.conv.LastSeq) {
		// The client's position belongs to another conversation or to a
		// future this relay never wrote: it cannot be honoured.
		r.resume = protocol.ResumeReset
	}
	if r.resume != protocol.ResumeOK {
		r.from = 0
	}
	h.keepLang(ctx, &r.visitor, hello.Lang)
	h.keepContext(ctx, &r.visitor, seen)
	return r, nil
}

// replay hands every stored message after seq from to write, in order.
func (h *Handler) replay(convID string, from uint64, write func(hub.Frame) error) error {
	for {
		msgs, err := h.store.Messages(convID, from, replayPage)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		for _, m := range msgs {
			if err := write(chat.MessageFrame(m)); err != nil {
				return fmt.Errorf("replay write: %w", err)
			}
			from = m.Seq
		}
		if len(msgs) < replayPage {
			return nil
		}
	}
}

func (s *Session) loop(ctx context.Context) {
	for {
		data, err := s.c.Read(ctx)
		if err != nil {
			return
		}
		v, err := protocol.Decode(data)
		if !s.frames.Any() {
			// Over the rate of all frames together, valid or not.
			if !s.limited(idOf(v)) {
				return
			}
			continue
		}
		if err != nil {
			if !s.refuse(err, "") {
				return
			}
			continue
		}
		s.rejects = 0
		if !s.frames.Allow(frameType(v)) {
			if !s.limited(idOf(v)) {
				return
			}
			continue
		}
		switch f := v.(type) {
		case *protocol.Send:
			if !s.onSend(ctx, f) {
				return
			}
		case *protocol.Typing:
			s.onTyping(f)
		case *protocol.Identify:
			if err := s.identifier().add(ctx, f.Traits); err != nil {
				if !s.refuse(err, "") {
					return
				}
			}
		case *protocol.Fingerprint:
			s.Fingerprint = f.Fingerprint
		case *protocol.Hello:
			if !s.refuse(protocol.Errorf(protocol.CodeBadFrame, "hello was already received"), "") {
				return
			}
		}
	}
}

// identifier returns the session's identify coalescer, made at the first
// identify frame: an idle session holds none (issue 16).
func (s *Session) identifier() *traits {
	if s.traits == nil {
		s.traits = &traits{h: s.h, visitorID: s.VisitorID, tokenHash: s.tokenHash, report: func(f hub.Frame) { s.c.Send(f) },
			switched: func(string) {
				// This device now has the user's visitor and conversation: the
				// client reconnects with its token, which finds them, and
				// replays their conversation from the start.
				s.c.Close(protocol.CloseSwitched, "identified as a user with a conversation elsewhere; reconnect")
			}}
	}
	return s.traits
}

// frameType is a decoded client frame's type.
func frameType(v any) string {
	switch v.(type) {
	case *protocol.Send:
		return protocol.TypeMessage
	case *protocol.Typing:
		return protocol.TypeTyping
	case *protocol.Identify:
		return protocol.TypeIdentify
	case *protocol.Fingerprint:
		return protocol.TypeFingerprint
	}
	return protocol.TypeHello
}

func idOf(v any) string {
	if f, ok := v.(*protocol.Send); ok {
		return f.ID
	}
	return ""
}

// limited refuses a frame over its rate with rate_limited (a message: not
// stored; resend the same id later). It reports false, after closing with
// 4029, once the client keeps going regardless.
func (s *Session) limited(id string) bool {
	s.h.metrics.FrameError(string(protocol.CodeRateLimited))
	if s.frames.Refused() {
		s.c.Close(protocol.CloseFlood, "far over the rate after repeated rate_limited errors")
		return false
	}
	s.c.Send(errorFrame(protocol.Errorf(protocol.CodeRateLimited, ""), id))
	return true
}

// onSend stores a visitor message and acks it. It reports false when the
// connection must end.
func (s *Session) onSend(ctx context.Context, f *protocol.Send) bool {
	if len(f.Text) > s.h.opts.MaxMessageBytes {
		return s.refuse(tooLong(len(f.Text), s.h.opts.MaxMessageBytes), f.ID)
	}
	if !s.h.visitors.Allow(s.VisitorID) {
		return s.limited(f.ID)
	}
	// Traits the page gave just before are stored first: whoever reads
	// the message sees who wrote it.
	if err := s.traits.flush(ctx); err != nil {
		s.c.Send(errorFrame(asProtocolError(err), ""))
	}
	// The commit publishes the sender's copy to this connection before
	// store1 returns: held, it waits for the ack and both leave in one
	// write(2) (hub.Conn.Hold).
	s.c.Hold()
	a, perr := s.h.store1(ctx, s, f)
	if perr != nil {
		s.c.Release(errorFrame(perr, f.ID))
		return true
	}
	s.c.Release(ackFrame(f.ID, a))
	s.h.afterStore(ctx, s, a)
	return true
}

func tooLong(n, max int) *protocol.Error {
	return protocol.Errorf(protocol.CodeMessageTooLong, fmt.Sprintf("message is %d bytes; the limit is %d", n, max))
}

// store1 stores one visitor message (with its browser-given answer).
func (h *Handler) store1(ctx context.Context, s *Session, f *protocol.Send) (store.Appended, *protocol.Error) {
	s.touch(ctx)
	msgs := []store.NewMessage{{ClientID: f.ID, From: protocol.FromVisitor, Text: f.Text}}
	if !h.opts.NoContext {
		msgs[0].Page = visitctx.PageOf(f.PageURL, f.PageTitle)
	}
	if f.Intent != "" && h.hooks.Answer != nil {
		// The browser already showed this FAQ answer; store the question and
		// the relay's own copy of the answer together.
		if text, ok := h.hooks.Answer(f.Intent, s.Lang); ok {
			msgs[0].Intent, msgs[0].Via = f.Intent, "browser"
			msgs = append(msgs, store.NewMessage{ClientID: f.ID + "#answer", From: protocol.FromBot, Author: "FAQ", Text: text, Intent: f.Intent, Via: "browser"})
		}
	}
	a, err := h.store.Append(ctx, s.ConversationID, msgs...)
	if err != nil {
		h.log.Error("visitor: store message", "conversation", s.ConversationID, "err", err)
		h.metrics.FrameError(string(protocol.CodeStorage))
		return a, protocol.Errorf(protocol.CodeStorage, "")
	}
	h.metrics.Ack(a.Duplicate[0])
	return a, nil
}

func ackOf(id string, a store.Appended) protocol.Ack {
	return protocol.Ack{Type: protocol.TypeAck, ID: id, Seq: a.Messages[0].Seq, Duplicate: a.Duplicate[0]}
}

// ackFrame is hub.NewFrame(ackOf(id, a)), byte for byte (TestAckFrame),
// without reflection: one for every message.
func ackFrame(id string, a store.Appended) hub.Frame {
	b := make([]byte, 0, 48+len(id))
	b = append(b, `{"type":"ack","id":`...)
	b = jsonx.AppendString(b, id)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, a.Messages[0].Seq, 10)
	if a.Duplicate[0] {
		b = append(b, `,"duplicate":true`...)
	}
	return hub.Frame{Data: append(b, '}')}
}

// afterStore runs the message hook for a newly stored message.
func (h *Handler) afterStore(ctx context.Context, s *Session, a store.Appended) {
	if !a.Duplicate[0] && h.hooks.Message != nil {
		h.hooks.Message(ctx, s, a)
	}
}

func (s *Session) onTyping(f *protocol.Typing) {
	now := time.Now()
	if f.On && now.Sub(s.lastTyping) < typingEvery {
		return
	}
	s.lastTyping = now
	s.h.hub.PublishExcept(chat.Topic(s.ConversationID), hub.NewFrame(protocol.TypingOut{
		Type: protocol.TypeTyping, ConversationID: s.ConversationID, From: protocol.FromVisitor, On: f.On,
	}), s.c)
}

// refuse answers a bad frame with an error through the writer; it reports
// false (after closing with 1008) once the client has sent too many.
func (s *Session) refuse(err error, id string) bool {
	pe := asProtocolError(err)
	s.h.metrics.FrameError(string(pe.Code))
	s.rejects++
	if s.rejects > maxRejects {
		s.c.Close(protocol.ClosePolicy, "too many invalid frames")
		return false
	}
	s.c.Send(errorFrame(pe, id))
	return true
}

// refuseNow is refuse before the writer runs.
func (s *Session) refuseNow(ctx context.Context, err error) bool {
	pe := asProtocolError(err)
	s.h.metrics.FrameError(string(pe.Code))
	s.rejects++
	if s.rejects > maxRejects {
		s.c.CloseBeforeStart(protocol.ClosePolicy, "too many invalid frames")
		return false
	}
	return s.c.WriteNow(ctx, errorFrame(pe, "")) == nil
}

func asProtocolError(err error) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	return protocol.Errorf(protocol.CodeInternal, "")
}

func errorFrame(e *protocol.Error, id string) hub.Frame {
	return hub.NewFrame(protocol.ErrorFrame{Type: protocol.TypeError, Code: e.Code, Message: e.Message, ID: id})
}
