// Package agent serves the agent console's socket, GET /v1/agent/ws:
// signed-in people see the inbox, watch conversations (with the same
// ordered replay and durable acks as visitors), reply, take over from the
// AI, transfer and close.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/internal/assign"
	"github.com/kefuhq/kefu/relay/internal/auth"
	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/metrics"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Options are the agent socket's limits.
type Options struct {
	MaxMessageBytes int
	HelloTimeout    time.Duration
	// Recheck is how often a live socket's session is checked again (it may
	// have expired); logout and disabling close sockets at once anyway.
	Recheck time.Duration
	Conn    hub.ConnOptions
	// Snapshot queues the AI answer streaming in a conversation so far, for
	// a console that starts watching mid-answer (nil: none).
	Snapshot func(sub hub.Subscriber, convID string)
}

// maxReplay bounds one watch's replay; older history is fetched over HTTP.
const maxReplay = 3000

// inboxOthers is how many recent conversations not in the queue and not
// the agent's own the welcome lists ("all").
const inboxOthers = 200

// Store is what the agent socket needs from the store.
type Store interface {
	Conversation(id string) (store.Conversation, error)
	Conversations(keep func(*store.Conversation) bool) ([]store.Conversation, error)
	Messages(convID string, after uint64, limit int) ([]store.Message, error)
	Visitor(id string) (store.Visitor, error)
	Append(ctx context.Context, convID string, msgs ...store.NewMessage) (store.Appended, error)
	AddNote(ctx context.Context, convID string, n store.NewNote) (store.Note, bool, error)
	Notes(convID string) ([]store.Note, error)
}

// Handler serves GET /v1/agent/ws.
type Handler struct {
	opts    Options
	authn   *auth.HTTP
	store   Store
	hub     *hub.Hub
	router  *assign.Router
	log     *slog.Logger
	metrics *metrics.Metrics

	mu        sync.Mutex
	bySession map[string]map[*hub.Conn]struct{}
	byAgent   map[string]map[*hub.Conn]struct{}
}

// New builds the handler; it does no I/O. It registers itself to close the
// sockets of ended sessions and to watch newly assigned conversations.
func New(opts Options, authn *auth.HTTP, st Store, h *hub.Hub, r *assign.Router, log *slog.Logger, m *metrics.Metrics) *Handler {
	if opts.Recheck <= 0 {
		opts.Recheck = 30 * time.Second
	}
	a := &Handler{opts: opts, authn: authn, store: st, hub: h, router: r, log: log, metrics: m,
		bySession: map[string]map[*hub.Conn]struct{}{}, byAgent: map[string]map[*hub.Conn]struct{}{}}
	authn.Svc.OnSessionsEnded(a.sessionsEnded)
	return a
}

// sessionsEnded closes the sockets of ended sessions with 4001.
func (h *Handler) sessionsEnded(hashes [][]byte, _ string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, hash := range hashes {
		for c := range h.bySession[string(hash)] {
			c.Close(protocol.CloseUnauthorized, "signed out")
		}
	}
}

// Assigned is the router's OnAssigned: the agent's consoles start watching
// the conversation.
func (h *Handler) Assigned(agentID, convID string) {
	h.mu.Lock()
	conns := make([]*hub.Conn, 0, len(h.byAgent[agentID]))
	for c := range h.byAgent[agentID] {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		// A replay that failed (a slow store) leaves the console without
		// the conversation's start; watching again replays it (the
		// connection drops the seqs it already has).
		for try := 1; ; try++ {
			err := h.watch(c, convID, 0)
			if err == nil {
				break
			}
			if try == 3 {
				h.log.Error("agent: watch an assigned conversation", "agent", agentID, "conversation", convID, "err", err)
				break
			}
			h.log.Warn("agent: watch an assigned conversation; trying again", "agent", agentID, "conversation", convID, "err", err)
		}
	}
}

func (h *Handler) track(c *hub.Conn, sessionHash, agentID string, add bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range []struct {
		index map[string]map[*hub.Conn]struct{}
		key   string
	}{{h.bySession, sessionHash}, {h.byAgent, agentID}} {
		if add {
			if m.index[m.key] == nil {
				m.index[m.key] = map[*hub.Conn]struct{}{}
			}
			m.index[m.key][c] = struct{}{}
			continue
		}
		delete(m.index[m.key], c)
		if len(m.index[m.key]) == 0 {
			delete(m.index, m.key)
		}
	}
}

// ServeHTTP checks origin and session, then upgrades.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The session cookie goes with any request the browser makes, so a page
	// on another site could open this socket as the agent: only the
	// relay's own pages may.
	if r.Header.Get("Origin") == "" || !h.authn.SameOrigin(r) {
		h.metrics.Refused.WithLabelValues("origin").Inc()
		httpx.Error(w, http.StatusForbidden, protocol.CodeOriginNotAllowed, "the agent socket only accepts the relay's own pages")
		return
	}
	sid := auth.SessionID(r)
	_, acct, err := h.authn.Svc.Check(r.Context(), sid)
	if err != nil {
		httpx.Error(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "")
		return
	}
	c, err := hub.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true}, "agent", h.opts.Conn) // origin checked above
	if err != nil {
		return
	}
	if !h.hub.Register(c) {
		c.CloseBeforeStart(protocol.CloseRestart, "server restarting")
		return
	}
	h.metrics.Connections.WithLabelValues("agent").Inc()
	h.metrics.ConnectsTotal.WithLabelValues("agent").Inc()
	hash := string(auth.HashSession(sid))
	h.track(c, hash, acct.ID, true)
	s := &session{h: h, c: c, acct: acct, sid: sid, watched: map[string]bool{}}
	code := s.run(context.WithoutCancel(r.Context()))
	h.track(c, hash, acct.ID, false)
	h.hub.Deregister(c)
	h.metrics.Closed("agent", int(code))
}

// watch subscribes c to a conversation and replays it after lastSeq.
func (h *Handler) watch(c *hub.Conn, convID string, lastSeq uint64) error {
	conv, err := h.store.Conversation(convID)
	if errors.Is(err, store.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "no such conversation")
	}
	if err != nil {
		return protocol.Errorf(protocol.CodeStorage, "")
	}
	from := lastSeq
	if conv.LastSeq > maxReplay && from < conv.LastSeq-maxReplay {
		from = conv.LastSeq - maxReplay
	}
	if from > conv.LastSeq {
		from = 0 // a position from the future: replay it all
	}
	err = h.hub.Watch(c, chat.Topic(convID), convID, func() ([]hub.Frame, error) {
		msgs, err := h.store.Messages(convID, from, 0)
		if err != nil {
			return nil, err
		}
		last := from
		if len(msgs) > 0 {
			last = msgs[len(msgs)-1].Seq
		}
		vis, _ := h.store.Visitor(conv.VisitorID) // traits are a nicety; a missing record shows none
		w := protocol.Watching{Type: "watching", ConversationID: convID, FromSeq: from, Seq: last, VisitorID: conv.VisitorID, Traits: vis.Traits, Lang: vis.Lang}
		if c := vis.Contact; c != nil && !c.Unsubscribed {
			w.Contact = &protocol.Contact{Email: c.Email, Name: c.Name}
		}
		out := []hub.Frame{hub.NewFrame(w)}
		for _, m := range msgs {
			out = append(out, chat.MessageFrame(m))
		}
		return out, nil
	})
	if err != nil {
		return fmt.Errorf("agent: watch %s: %w", convID, err)
	}
	if err := h.watchNotes(c, convID); err != nil {
		return err
	}
	if h.opts.Snapshot != nil {
		h.opts.Snapshot(c, convID)
	}
	return nil
}
