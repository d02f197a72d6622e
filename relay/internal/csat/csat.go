// Package csat is customer satisfaction: a visitor rates a closed
// conversation 1 to 5 with an optional comment (POST
// /v1/conversations/{id}/rating), the rating is stored as a message of its
// own (store.Rating, from "rating") so every closing keeps its rating, and
// Collect reads them back for the dashboard. Each stored rating is handed
// to Events: the store's event log ("conversation.rated"), which the
// webhooks read (docs/protocol.md, "Ratings").
package csat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/limits"
	"github.com/kefuhq/kefu/relay/internal/origin"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/visitor"
	"github.com/kefuhq/kefu/relay/protocol"
)

// MaxComment bounds a rating's comment, in bytes of UTF-8.
const MaxComment = 1000

// Store is what ratings need of the store.
type Store interface {
	VisitorByToken(tokenHash []byte) (store.Visitor, error)
	Conversation(id string) (store.Conversation, error)
	Append(ctx context.Context, convID string, msgs ...store.NewMessage) (store.Appended, error)
}

// Event is a stored rating, as the webhook event "rating" carries it.
type Event struct {
	ConversationID string    `json:"conversation_id"`
	VisitorID      string    `json:"visitor_id"`
	AgentID        string    `json:"agent_id,omitempty"`
	Score          int       `json:"score"`
	Comment        string    `json:"comment,omitempty"`
	Seq            uint64    `json:"seq"`
	At             time.Time `json:"at"`
}

// Events receives every rating once it is stored. It is the seam where
// the webhooks of issue 12 plug in (event "rating"); it must not block.
type Events interface {
	Rated(ctx context.Context, e Event)
}

// NoEvents drops every event.
type NoEvents struct{}

// Rated implements Events.
func (NoEvents) Rated(context.Context, Event) {}

// Emitter is the store's event log (store.EventRated and the rest).
type Emitter interface {
	Emit(ctx context.Context, convID, typ string, data any) error
}

// LogEvents puts each rating into the store's event log as
// "conversation.rated", where webhooks and the other notifiers read it.
// The rating's message is already stored (and its own message.created
// event with it): an emit that fails is logged, the rating stays.
type LogEvents struct {
	Store Emitter
	Log   *slog.Logger
}

// Rated implements Events.
func (l LogEvents) Rated(ctx context.Context, e Event) {
	data := map[string]any{"score": e.Score, "seq": e.Seq, "visitor_id": e.VisitorID}
	if e.Comment != "" {
		data["comment"] = e.Comment
	}
	if e.AgentID != "" {
		data["agent_id"] = e.AgentID
	}
	if err := l.Store.Emit(ctx, e.ConversationID, store.EventRated, data); err != nil && l.Log != nil {
		l.Log.Error("csat: the rating's event was not logged (no webhook for it)", "conversation", e.ConversationID, "err", err)
	}
}

// Request is the body of POST /v1/conversations/{id}/rating.
type Request struct {
	// ID is the client's id for this rating: sending it again stores
	// nothing new. A later rating (a changed score, a comment added)
	// takes another id and replaces the earlier one for the dashboard.
	ID      string `json:"id"`
	Score   int    `json:"score"`
	Comment string `json:"comment,omitempty"`
}

// Handler serves the rating endpoint.
type Handler struct {
	st      Store
	origins *origin.Policy
	events  Events
	log     *slog.Logger
	// perVisitor: a rating is a click, then perhaps a comment.
	perVisitor *limits.Keyed
}

// New builds the handler; events may be nil.
func New(st Store, origins *origin.Policy, events Events, log *slog.Logger) *Handler {
	if events == nil {
		events = NoEvents{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{st: st, origins: origins, events: events, log: log, perVisitor: limits.NewKeyed(1, 5, nil)}
}

// Routes registers POST /v1/conversations/{id}/rating; cors adds CORS for
// the allowed sites (the preflight is the visitor API's).
func (h *Handler) Routes(mux httpx.Mux, cors func(http.Handler) http.Handler) {
	mux.Handle("POST /v1/conversations/{id}/rating", cors(http.HandlerFunc(h.rate)))
}

func (h *Handler) rate(w http.ResponseWriter, r *http.Request) {
	if !h.origins.Admit(r.Header.Get("Origin"), r.Host) {
		httpx.Error(w, http.StatusForbidden, protocol.CodeOriginNotAllowed, "")
		return
	}
	tok := visitor.Bearer(r)
	if tok == "" {
		httpx.Error(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "send the visitor token as Authorization: Bearer <token>")
		return
	}
	v, err := h.st.VisitorByToken(visitor.TokenHash(tok))
	if errors.Is(err, store.ErrNotFound) {
		httpx.Error(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "unknown visitor token")
		return
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	if v.ConversationID != r.PathValue("id") {
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "no such conversation")
		return
	}
	var req Request
	if err := httpx.DecodeJSON(w, r, 4096, &req); err != nil {
		return
	}
	if err := req.check(); err != nil {
		httpx.Error(w, http.StatusBadRequest, protocol.CodeBadField, err.Error())
		return
	}
	if !h.perVisitor.Allow(v.ID) {
		httpx.Error(w, http.StatusTooManyRequests, protocol.CodeRateLimited, "")
		return
	}
	a, err := h.Rate(r.Context(), v, req)
	var pe *protocol.Error
	switch {
	case errors.As(err, &pe):
		httpx.Error(w, http.StatusConflict, pe.Code, pe.Message)
		return
	case err != nil:
		h.fail(w, err)
		return
	}
	httpx.JSON(w, http.StatusOK, protocol.Ack{Type: protocol.TypeAck, ID: req.ID, Seq: a.Messages[0].Seq, Duplicate: a.Duplicate[0]})
}

// Rate stores a visitor's rating of their closed conversation.
func (h *Handler) Rate(ctx context.Context, v store.Visitor, req Request) (store.Appended, error) {
	conv, err := h.st.Conversation(v.ConversationID)
	if err != nil {
		return store.Appended{}, fmt.Errorf("csat: %w", err)
	}
	if conv.Status != store.StatusClosed {
		return store.Appended{}, protocol.Errorf(protocol.CodeConflict, "the conversation is open: a rating is for a closed one")
	}
	comment := strings.TrimSpace(req.Comment)
	a, err := h.st.Append(ctx, conv.ID, store.NewMessage{
		ClientID: req.ID, From: protocol.FromRating, Text: comment,
		Rating: &store.Rating{Score: req.Score, Comment: comment, AgentID: conv.AgentID},
	})
	if err != nil {
		return store.Appended{}, fmt.Errorf("csat: store rating: %w", err)
	}
	if !a.Duplicate[0] {
		m := a.Messages[0]
		h.events.Rated(context.WithoutCancel(ctx), Event{ConversationID: conv.ID, VisitorID: v.ID, AgentID: conv.AgentID,
			Score: req.Score, Comment: comment, Seq: m.Seq, At: m.Time})
	}
	return a, nil
}

func (req Request) check() error {
	switch {
	case req.ID == "" || len(req.ID) > protocol.MaxIDLen || strings.IndexFunc(req.ID, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0:
		return errors.New(`field "id" must be 1 to 64 printable ASCII characters`)
	case req.Score < 1 || req.Score > 5:
		return errors.New(`field "score" must be 1 to 5`)
	case len(req.Comment) > MaxComment || !utf8.ValidString(req.Comment):
		return fmt.Errorf(`field "comment" must be at most %d bytes of text`, MaxComment)
	}
	return nil
}

func (h *Handler) fail(w http.ResponseWriter, err error) {
	h.log.Error("csat: rating", "err", err)
	httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "could not store the rating; send it again")
}

// Rated is one rating that counts: the last one of its closing.
type Rated struct {
	store.Rating
	ConversationID string
	At             time.Time
}

// Collect returns the ratings that count among a conversation's messages
// (in seq order), those made in [from, to): of several ratings given
// between two of the visitor's messages (a score, then the same score
// with a comment) only the last counts.
func Collect(msgs []store.Message, from, to time.Time) []Rated {
	var out []Rated
	var pending *store.Message
	keep := func() {
		if pending != nil && !pending.Time.Before(from) && pending.Time.Before(to) {
			out = append(out, Rated{Rating: *pending.Rating, ConversationID: pending.ConversationID, At: pending.Time})
		}
		pending = nil
	}
	for i := range msgs {
		m := &msgs[i]
		switch {
		case m.From == protocol.FromRating && m.Rating != nil:
			pending = m
		case m.From == protocol.FromVisitor:
			keep()
		}
	}
	keep()
	return out
}
