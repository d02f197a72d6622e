package visitor

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/limits"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/visitctx"
	"github.com/kefuhq/kefu/relay/protocol"
)

// The HTTP API is the visitor socket's fallback for networks that block
// WebSockets (and for the edge build): the same sessions, messages and
// acks, with server-sent events for what the socket would push.

// listPage bounds one GET of a conversation's messages.
const listPage = 500

// HTTPRoutes registers the visitor HTTP API; wrap adds CORS.
func (h *Handler) HTTPRoutes(mux httpx.Mux, wrap func(http.Handler) http.Handler) {
	mux.Handle("POST /v1/conversations", wrap(h.guard(h.startHTTP)))
	mux.Handle("GET /v1/conversations/{id}/messages", wrap(h.guard(h.listHTTP)))
	mux.Handle("POST /v1/conversations/{id}/messages", wrap(h.guard(h.sendHTTP)))
	mux.Handle("GET /v1/conversations/{id}/events", wrap(h.guard(h.eventsHTTP)))
	mux.Handle("POST /v1/conversations/{id}/erasure-request", wrap(h.guard(h.erasureHTTP)))
	mux.Handle("POST /v1/conversations/{id}/contact", wrap(h.guard(h.contactHTTP)))
	mux.Handle("POST /v1/conversations/{id}/identify", wrap(h.guard(h.identifyHTTP)))
	preflight := wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.Error(w, http.StatusForbidden, protocol.CodeOriginNotAllowed, "")
	}))
	mux.Handle("OPTIONS /v1/conversations", preflight)
	mux.Handle("OPTIONS /v1/conversations/{id}/{what}", preflight)
}

// guard refuses pages from sites that are not allowed: CORS only hides
// responses, it does not stop a POST from running.
func (h *Handler) guard(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.opts.Origins.Admit(r.Header.Get("Origin"), r.Host) {
			h.metrics.Refuse("origin")
			httpx.Error(w, http.StatusForbidden, protocol.CodeOriginNotAllowed, "")
			return
		}
		next(w, r)
	})
}

// bearer returns the visitor token of Authorization: Bearer <token>.
func bearer(r *http.Request) string {
	v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return strings.TrimSpace(v)
}

// sessionFor authenticates the request's visitor and checks the
// conversation in the path is theirs. Someone else's conversation is "not
// found", so ids cannot be probed.
func (h *Handler) sessionFor(w http.ResponseWriter, r *http.Request) (*Session, bool) {
	tok := bearer(r)
	if tok == "" {
		httpx.Error(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "send the visitor token as Authorization: Bearer <token>")
		return nil, false
	}
	v, err := h.store.VisitorByToken(hashToken(tok))
	if errors.Is(err, store.ErrNotFound) {
		httpx.Error(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "unknown visitor token; start again with POST /v1/conversations")
		return nil, false
	}
	if err != nil {
		h.log.Error("visitor http: find by token", "err", err)
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "")
		return nil, false
	}
	if v.ConversationID != r.PathValue("id") {
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "no such conversation")
		return nil, false
	}
	s := &Session{h: h, log: h.log, ip: limits.ClientIP(r, h.opts.BehindProxy), VisitorID: v.ID, ConversationID: v.ConversationID, Lang: v.Lang, LangStored: true}
	if v.Context != nil {
		s.context = *v.Context
	}
	s.seen.Browser, s.seen.OS = visitctx.Browser(r.Header.Get("User-Agent"))
	return s, true
}

// startHTTP is POST /v1/conversations: the HTTP form of hello.
func (h *Handler) startHTTP(w http.ResponseWriter, r *http.Request) {
	var req protocol.StartBody
	if r.ContentLength != 0 {
		// The socket's decoder, so a body is refused exactly as the
		// same hello frame would be.
		if err := httpx.DecodeJSON(w, r, 4096, &req); err != nil {
			return
		}
	}
	hello := &protocol.Hello{Type: protocol.TypeHello, Token: bearer(r), ConversationID: req.ConversationID, LastSeq: req.LastSeq, Fingerprint: req.Fingerprint, Lang: req.Lang,
		Locale: req.Locale, TZ: req.TZ, Referrer: req.Referrer}
	if err := protocol.Validate(hello); err != nil {
		writeProtocolError(w, err)
		return
	}
	res, err := h.resolve(r.Context(), limits.ClientIP(r, h.opts.BehindProxy), hello, seenOf(r.Header.Get("User-Agent"), r.Header.Get("Origin"), hello))
	if err != nil {
		writeProtocolError(w, err)
		return
	}
	httpx.JSON(w, http.StatusOK, protocol.Welcome{
		Type: protocol.TypeWelcome, Token: res.token, ConversationID: res.conv.ID, Seq: res.conv.LastSeq,
		Resume: res.resume, Status: res.conv.Status, Handler: res.conv.Handler,
		PingMS: h.heartbeat().Milliseconds(),
	})
}

// listHTTP is GET /v1/conversations/{id}/messages?after=N.
func (h *Handler) listHTTP(w http.ResponseWriter, r *http.Request) {
	s, ok := h.sessionFor(w, r)
	if !ok {
		return
	}
	after, ok := seqParam(w, r)
	if !ok {
		return
	}
	// A polling client is listening: an answer streaming meanwhile is not
	// cut for want of a socket (bot's PollGrace).
	h.hub.Seen(chat.Topic(s.ConversationID))
	h.hub.Seen(chat.VisitorTopic(s.ConversationID))
	msgs, last, err := h.page(s.ConversationID, after)
	if err != nil {
		h.log.Error("visitor http: list", "conversation", s.ConversationID, "err", err)
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "")
		return
	}
	out := struct {
		Messages []protocol.Message `json:"messages"`
		Seq      uint64             `json:"seq"`
		More     bool               `json:"more"`
	}{Messages: []protocol.Message{}, Seq: last, More: len(msgs) == listPage}
	for _, m := range msgs {
		out.Messages = append(out.Messages, chat.MessageOf(m))
	}
	httpx.JSON(w, http.StatusOK, out)
}

// pager is a store that reads a page of messages with the conversation's
// newest seq at once (D1: one statement, not two).
type pager interface {
	MessagesPage(convID string, after uint64, limit int) ([]store.Message, uint64, error)
}

// page returns up to listPage messages after after, and the
// conversation's newest seq.
func (h *Handler) page(convID string, after uint64) ([]store.Message, uint64, error) {
	if p, ok := h.store.(pager); ok {
		return p.MessagesPage(convID, after, listPage)
	}
	conv, err := h.store.Conversation(convID)
	if err != nil {
		return nil, 0, err
	}
	msgs, err := h.store.Messages(convID, after, listPage)
	return msgs, conv.LastSeq, err
}

func seqParam(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	v := r.URL.Query().Get("after")
	if v == "" {
		v = r.Header.Get("Last-Event-ID")
	}
	if v == "" {
		return 0, true
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		httpx.Error(w, http.StatusBadRequest, protocol.CodeBadField, `"after" must be a seq number`)
		return 0, false
	}
	return n, true
}

// sendHTTP is POST /v1/conversations/{id}/messages. With Accept:
// text/event-stream the response streams the ack, then whatever answers the
// message (FAQ answer, AI deltas and final message, hand-off), then done.
func (h *Handler) sendHTTP(w http.ResponseWriter, r *http.Request) {
	s, ok := h.sessionFor(w, r)
	if !ok {
		return
	}
	var req protocol.PostBody
	if err := httpx.DecodeJSON(w, r, int64(h.opts.Conn.ReadLimit), &req); err != nil {
		return
	}
	if err := protocol.Validate(&req); err != nil {
		writeProtocolError(w, err)
		return
	}
	f := &protocol.Send{Type: protocol.TypeMessage, ID: req.ID, Text: req.Text, Intent: req.Intent, PageURL: req.PageURL, PageTitle: req.PageTitle}
	if len(f.Text) > h.opts.MaxMessageBytes {
		writeProtocolError(w, tooLong(len(f.Text), h.opts.MaxMessageBytes))
		return
	}
	s.Fingerprint = req.Fingerprint
	if !h.visitors.Allow(s.VisitorID) {
		h.metrics.FrameError(string(protocol.CodeRateLimited))
		httpx.Error(w, http.StatusTooManyRequests, protocol.CodeRateLimited, "")
		return
	}
	if !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		h.hub.Seen(chat.Topic(s.ConversationID)) // it will poll for the answer
		h.hub.Seen(chat.VisitorTopic(s.ConversationID))
		a, perr := h.store1(r.Context(), s, f)
		if perr != nil {
			writeProtocolError(w, perr)
			return
		}
		httpx.JSON(w, http.StatusOK, ackOf(f.ID, a))
		h.afterStore(context.WithoutCancel(r.Context()), s, a)
		return
	}

	sink := newSSESink(h.opts.Conn.Queue)
	if !h.hub.Register(sink) {
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeShuttingDown, "")
		return
	}
	defer h.hub.Deregister(sink)
	h.hub.Subscribe(chat.Topic(s.ConversationID), sink)
	h.hub.Subscribe(chat.VisitorTopic(s.ConversationID), sink)
	a, perr := h.store1(r.Context(), s, f)
	if perr != nil {
		writeProtocolError(w, perr)
		return
	}
	sw := newSSEWriter(w, h.opts.Conn.WriteTimeout)
	sw.seqs[s.ConversationID] = a.Messages[0].Seq // the client knows its own message
	if err := sw.event(protocol.TypeAck, ackOf(f.ID, a)); err != nil {
		return
	}
	h.afterStore(context.WithoutCancel(r.Context()), s, a)
	h.streamAnswer(r.Context(), sw, sink, s.ConversationID)
}

// streamAnswer forwards the conversation's frames until nothing more is
// coming for this message: no AI answer is streaming and everything queued
// has been written.
func (h *Handler) streamAnswer(ctx context.Context, sw *sseWriter, sink *sseSink, convID string) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	limit := time.NewTimer(h.opts.AnswerTimeout + 10*time.Second)
	defer limit.Stop()
	for {
		select {
		case f := <-sink.frames:
			if err := sw.frame(f); err != nil {
				return
			}
			continue
		case <-sink.closed:
			sw.event(protocol.TypeError, protocol.ErrorFrame{Type: protocol.TypeError, Code: closeReason(sink.code), Message: protocol.DefaultMessage(closeReason(sink.code))})
			return
		case <-ctx.Done():
			return
		case <-limit.C:
		case <-tick.C:
			if h.hooks.Streaming != nil && h.hooks.Streaming(convID) {
				continue
			}
			if len(sink.frames) > 0 {
				continue
			}
		}
		sw.event("done", map[string]uint64{"seq": sw.seqs[convID]})
		return
	}
}

// eventsHTTP is GET /v1/conversations/{id}/events: what the socket would
// push, as server-sent events, for up to EventsFor; the client reconnects
// with Last-Event-ID (or ?after=) to continue.
func (h *Handler) eventsHTTP(w http.ResponseWriter, r *http.Request) {
	s, ok := h.sessionFor(w, r)
	if !ok {
		return
	}
	after, ok := seqParam(w, r)
	if !ok {
		return
	}
	if !h.perIP.Acquire(s.ip) {
		h.metrics.Refuse("per_ip")
		httpx.Error(w, http.StatusTooManyRequests, protocol.CodeTooManyConnections, "")
		return
	}
	defer h.perIP.Release(s.ip)
	sink := newSSESink(h.opts.Conn.Queue)
	if !h.hub.Register(sink) {
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeShuttingDown, "")
		return
	}
	defer h.hub.Deregister(sink)
	h.hub.Subscribe(chat.Topic(s.ConversationID), sink)
	h.hub.Subscribe(chat.VisitorTopic(s.ConversationID), sink)
	h.hub.Subscribe(chat.AvailabilityTopic, sink)
	sw := newSSEWriter(w, h.opts.Conn.WriteTimeout)
	sw.seqs[s.ConversationID] = after // the client has these
	if err := h.replay(s.ConversationID, after, sw.frame); err != nil {
		return
	}
	if h.hooks.Joined != nil {
		h.hooks.Joined(sink, s)
	}
	end := time.NewTimer(h.opts.EventsFor)
	defer end.Stop()
	keepAlive := time.NewTicker(h.heartbeat())
	defer keepAlive.Stop()
	var poll <-chan time.Time // nil: never
	if h.opts.PollEvery > 0 {
		t := time.NewTicker(h.opts.PollEvery)
		defer t.Stop()
		poll = t.C
	}
	for {
		select {
		case f := <-sink.frames:
			if sw.frame(f) != nil {
				return
			}
		case <-poll:
			// What other requests stored since the newest seq written; the
			// writer skips what the hub already delivered.
			if h.replay(s.ConversationID, sw.seqs[s.ConversationID], sw.frame) != nil {
				return
			}
		case <-keepAlive.C:
			// The heartbeat, as on the socket: it also keeps proxies from
			// closing an idle stream.
			if sw.event(protocol.TypePing, map[string]string{"type": protocol.TypePing}) != nil {
				return
			}
		case <-sink.closed:
			sw.event(protocol.TypeError, protocol.ErrorFrame{Type: protocol.TypeError, Code: closeReason(sink.code), Message: protocol.DefaultMessage(closeReason(sink.code))})
			return
		case <-end.C:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// heartbeat is how often an event stream gets a ping event: the socket's
// ping interval, or 15 s where there is none (the edge build).
func (h *Handler) heartbeat() time.Duration {
	if h.opts.Conn.PingInterval > 0 {
		return h.opts.Conn.PingInterval
	}
	return 15 * time.Second
}

func closeReason(code websocket.StatusCode) protocol.Code {
	if code == protocol.CloseSlow {
		return protocol.CodeSlowConsumer
	}
	return protocol.CodeShuttingDown
}

// writeProtocolError answers with the HTTP status that fits the code.
func writeProtocolError(w http.ResponseWriter, err error) {
	pe := asProtocolError(err)
	status := http.StatusBadRequest
	switch pe.Code {
	case protocol.CodeStorage, protocol.CodeShuttingDown:
		status = http.StatusServiceUnavailable
	case protocol.CodeRateLimited:
		status = http.StatusTooManyRequests
	case protocol.CodeMessageTooLong:
		status = http.StatusRequestEntityTooLarge
	case protocol.CodeInternal:
		status = http.StatusInternalServerError
	case protocol.CodeIdentityRefused:
		status = http.StatusForbidden
	}
	httpx.Error(w, status, pe.Code, pe.Message)
}

var _ hub.Subscriber = (*sseSink)(nil)

// erasureHTTP is POST /v1/conversations/{id}/erasure-request: the widget's
// "delete my data". It records the request for an admin (the shop decides
// and erases, docs/privacy.md); 202 says it is recorded, not done.
func (h *Handler) erasureHTTP(w http.ResponseWriter, r *http.Request) {
	s, ok := h.sessionFor(w, r)
	if !ok {
		return
	}
	if h.hooks.ErasureRequest == nil {
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "erasure requests are not taken here")
		return
	}
	if !h.visitors.Allow(s.VisitorID) {
		httpx.Error(w, http.StatusTooManyRequests, protocol.CodeRateLimited, "")
		return
	}
	if err := h.hooks.ErasureRequest(r.Context(), s.VisitorID, s.ConversationID); err != nil {
		h.log.Error("visitor http: erasure request", "err", err)
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "could not record the request; try again")
		return
	}
	w.WriteHeader(http.StatusAccepted)
}
