// Package privacy is what a shop needs to answer its visitors' data
// rights and keep data no longer than it should: find a visitor (by id,
// email or trait), export everything about them, erase it for good, the
// visitors' own erasure requests, an audit of erasures that holds no
// personal data, and the retention sweep (retention.go). It works on any
// backend that can list and delete (boltdb, JetStream, D1); what each
// backend guarantees about the bytes on disk is in docs/privacy.md.
package privacy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Store is what privacy needs of a backend.
type Store interface {
	store.Settings
	Visitor(id string) (store.Visitor, error)
	Visitors(keep func(*store.Visitor) bool) ([]store.Visitor, error)
	Conversation(id string) (store.Conversation, error)
	Conversations(keep func(*store.Conversation) bool) ([]store.Conversation, error)
	Messages(convID string, after uint64, limit int) ([]store.Message, error)
	DeleteConversations(ctx context.Context, ids []string) (int, error)
	DeleteVisitors(ctx context.Context, ids []string) (int, error)
}

// Compacter is a store whose deleted records stay in its file until it is
// compacted (boltdb). Erase and the sweep compact after deleting.
type Compacter interface {
	Compact(ctx context.Context) (store.CompactStats, error)
}

// Subject is what an Eraser is told about the people being erased. Texts
// and Emails are given so that copies kept elsewhere (an outbox, a cache
// keyed by words) can be found; an Eraser must not keep them.
type Subject struct {
	VisitorIDs      []string
	ConversationIDs []string
	// Fingerprints are the visitors' session fingerprints (when the shop
	// turned them on): what answers cached for one session are scoped by.
	Fingerprints []string
	// Emails are the visitors' "email" traits and the emails they left
	// (store.Contact).
	Emails []string
	// Texts are the messages the visitors wrote (empty for the retention
	// sweep, which does not read messages it deletes).
	Texts []string
	// Retention is true when the sweep, not a person's request, erases.
	Retention bool
}

// Eraser removes what a part of Kefu keeps about a Subject outside the
// store's visitors, conversations and messages: mail and webhook
// outboxes, attachments, caches. It runs before the store's records are
// deleted, and again if an erasure is repeated after a crash, so it must
// be idempotent. docs/privacy.md is the contract for new parts.
type Eraser interface {
	// Name names the part in the audit ("ai-cache", "mail-outbox").
	Name() string
	Erase(ctx context.Context, s Subject) error
}

// EraserFunc adapts a function to Eraser.
type EraserFunc struct {
	ID string
	Fn func(ctx context.Context, s Subject) error
}

// Name implements Eraser.
func (f EraserFunc) Name() string { return f.ID }

// Erase implements Eraser.
func (f EraserFunc) Erase(ctx context.Context, s Subject) error { return f.Fn(ctx, s) }

// Options configure New.
type Options struct {
	// Erasers run on every erasure, in order.
	Erasers []Eraser
	// Log receives what was erased (ids hashed). Default discards.
	Log *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Service finds, exports and erases visitors' data.
type Service struct {
	st   Store
	opts Options
	// mu serialises the read-modify-write of the audit and request
	// documents on this node (settings have no compare-and-set).
	mu sync.Mutex
}

// New returns the service; it does no I/O.
func New(st Store, opts Options) *Service {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{st: st, opts: opts}
}

// Query says whom to find. Exactly one of ID, Email and Trait is set.
type Query struct {
	// ID is a visitor id, or a conversation id (its visitor is found).
	ID string
	// Email matches the "email" trait or the email the visitor left,
	// ignoring case and spaces around.
	Email string
	// Trait and Value match a trait exactly (the value ignoring case).
	Trait, Value string
	// Hash matches visitors by HashID, as the audit and the log name them:
	// after a restore, what was erased since the backup is found again.
	Hash string
}

// ErrBadQuery means a Query names nothing, or more than one thing.
var ErrBadQuery = errors.New("give one of a visitor or conversation id, an email, a trait and its value, or audit hashes")

// Found is a visitor and their conversation.
type Found struct {
	Visitor       store.Visitor        `json:"visitor"`
	Conversations []store.Conversation `json:"conversations"`
}

// Find returns the visitors q names, with their conversations, newest
// first. It reads every visitor record for an email or a trait.
func (s *Service) Find(q Query) ([]Found, error) {
	set := 0
	for _, v := range []string{q.ID, q.Email, q.Trait, q.Hash} {
		if strings.TrimSpace(v) != "" {
			set++
		}
	}
	if set != 1 {
		return nil, ErrBadQuery
	}
	var vs []store.Visitor
	switch {
	case q.ID != "":
		id := strings.TrimSpace(q.ID)
		v, err := s.st.Visitor(id)
		if errors.Is(err, store.ErrNotFound) {
			c, cerr := s.st.Conversation(id)
			if cerr != nil {
				if errors.Is(cerr, store.ErrNotFound) {
					return nil, nil
				}
				return nil, fmt.Errorf("privacy: find: %w", cerr)
			}
			v, err = s.st.Visitor(c.VisitorID)
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("privacy: find: %w", err)
		}
		vs = []store.Visitor{v}
	case q.Hash != "":
		want := map[string]bool{}
		for _, h := range strings.Split(q.Hash, ",") {
			want[strings.ToLower(strings.TrimSpace(h))] = true
		}
		var err error
		vs, err = s.st.Visitors(func(v *store.Visitor) bool { return want[HashID(v.ID)] })
		if err != nil {
			return nil, fmt.Errorf("privacy: find: %w", err)
		}
	case q.Email != "":
		want := strings.ToLower(strings.TrimSpace(q.Email))
		var err error
		vs, err = s.st.Visitors(func(v *store.Visitor) bool {
			return strings.ToLower(strings.TrimSpace(v.Traits["email"])) == want ||
				v.Contact != nil && strings.ToLower(v.Contact.Email) == want
		})
		if err != nil {
			return nil, fmt.Errorf("privacy: find: %w", err)
		}
	default:
		key, want := strings.TrimSpace(q.Trait), strings.ToLower(strings.TrimSpace(q.Value))
		var err error
		vs, err = s.st.Visitors(func(v *store.Visitor) bool {
			got, ok := v.Traits[key]
			return ok && strings.ToLower(strings.TrimSpace(got)) == want
		})
		if err != nil {
			return nil, fmt.Errorf("privacy: find: %w", err)
		}
	}
	return s.withConversations(vs)
}

// withConversations adds each visitor's conversations: their current one
// and any other that names them.
func (s *Service) withConversations(vs []store.Visitor) ([]Found, error) {
	if len(vs) == 0 {
		return nil, nil
	}
	ids := map[string]int{}
	out := make([]Found, len(vs))
	for i, v := range vs {
		ids[v.ID] = i
		out[i].Visitor = v
	}
	convs, err := s.st.Conversations(func(c *store.Conversation) bool { _, ok := ids[c.VisitorID]; return ok })
	if err != nil {
		return nil, fmt.Errorf("privacy: conversations: %w", err)
	}
	for _, c := range convs {
		out[ids[c.VisitorID]].Conversations = append(out[ids[c.VisitorID]].Conversations, c)
	}
	for i := range out {
		slices.SortFunc(out[i].Conversations, func(a, b store.Conversation) int { return b.UpdatedAt.Compare(a.UpdatedAt) })
	}
	slices.SortFunc(out, func(a, b Found) int { return b.Visitor.CreatedAt.Compare(a.Visitor.CreatedAt) })
	return out, nil
}

// Export is everything stored about some visitors, as JSON.
type Export struct {
	ExportedAt time.Time       `json:"exported_at"`
	Visitors   []VisitorExport `json:"visitors"`
}

// VisitorExport is one visitor's record and conversations.
type VisitorExport struct {
	Visitor       store.Visitor        `json:"visitor"`
	Conversations []ConversationExport `json:"conversations"`
}

// ConversationExport is a conversation with its whole transcript, and
// the agents' internal notes on it where the store keeps notes. Files are
// listed in their messages (name, type, size), not inlined.
type ConversationExport struct {
	store.Conversation
	Messages []store.Message `json:"messages"`
	Notes    []store.Note    `json:"notes,omitempty"`
	// Tags are the labels agents put on it (store.DocTags).
	Tags []string `json:"tags,omitempty"`
}

// noteStore is a store that keeps internal notes (the relay's backends).
type noteStore interface {
	Notes(convID string) ([]store.Note, error)
}

// ErrNoVisitor means none of the visitor ids given exists.
var ErrNoVisitor = fmt.Errorf("no such visitor: %w", store.ErrNotFound)

// Export gathers the visitors' records, conversations and messages.
func (s *Service) Export(ids []string) (Export, error) {
	found, err := s.visitors(ids)
	if err != nil {
		return Export{}, err
	}
	out := Export{ExportedAt: s.opts.Now().UTC(), Visitors: []VisitorExport{}}
	for _, f := range found {
		ve := VisitorExport{Visitor: f.Visitor, Conversations: []ConversationExport{}}
		for _, c := range f.Conversations {
			ce, err := s.ExportConversation(c)
			if err != nil {
				return Export{}, err
			}
			ve.Conversations = append(ve.Conversations, ce)
		}
		out.Visitors = append(out.Visitors, ve)
	}
	return out, nil
}

// ExportConversation reads a conversation's transcript.
func (s *Service) ExportConversation(c store.Conversation) (ConversationExport, error) {
	msgs, err := s.st.Messages(c.ID, 0, 0)
	if err != nil {
		return ConversationExport{}, fmt.Errorf("privacy: export %s: %w", c.ID, err)
	}
	if msgs == nil {
		msgs = []store.Message{}
	}
	out := ConversationExport{Conversation: c, Messages: msgs}
	if ns, ok := s.st.(noteStore); ok {
		if out.Notes, err = ns.Notes(c.ID); err != nil {
			return ConversationExport{}, fmt.Errorf("privacy: export %s: %w", c.ID, err)
		}
	}
	if ts, ok := s.st.(store.TagDocs); ok {
		if out.Tags, err = store.ReadTags(ts, c.ID); err != nil {
			return ConversationExport{}, fmt.Errorf("privacy: export %s: %w", c.ID, err)
		}
	}
	return out, nil
}

// visitors loads the visitors with these ids (unknown ones are skipped)
// and their conversations; ErrNoVisitor when none exists.
func (s *Service) visitors(ids []string) ([]Found, error) {
	var vs []store.Visitor
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		v, err := s.st.Visitor(id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("privacy: visitor %s: %w", id, err)
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil, ErrNoVisitor
	}
	vs, err := s.sameUsers(vs, seen)
	if err != nil {
		return nil, err
	}
	return s.withConversations(vs)
}

// sameUsers adds the other visitors of the verified users among vs: a
// signed-in customer's devices (docs/decisions.md, issue 15) are one
// person, exported and erased together. One scan of the visitors, only
// when a verified user is among them.
func (s *Service) sameUsers(vs []store.Visitor, seen map[string]bool) ([]store.Visitor, error) {
	users := map[string]bool{}
	for _, v := range vs {
		if u := verifiedUser(&v); u != "" {
			users[u] = true
		}
	}
	if len(users) == 0 {
		return vs, nil
	}
	more, err := s.st.Visitors(func(v *store.Visitor) bool { return !seen[v.ID] && users[verifiedUser(v)] })
	if err != nil {
		return nil, fmt.Errorf("privacy: the user's other visitors: %w", err)
	}
	return append(vs, more...), nil
}

// verifiedUser is the shop's user id a visitor was verified as, if any.
func verifiedUser(v *store.Visitor) string {
	if v.Traits["identity_verified"] == "true" {
		return v.Traits["user_id"]
	}
	return ""
}

// Receipt is what an erasure removed.
type Receipt struct {
	Visitors      int                 `json:"visitors"`
	Conversations int                 `json:"conversations"`
	Messages      int                 `json:"messages"`
	Erasers       []string            `json:"erasers,omitempty"`
	Compacted     *store.CompactStats `json:"compacted,omitempty"`
}

// Erase removes the visitors with these ids for good: every conversation
// of theirs with its messages, what each Eraser keeps, their records and
// tokens, their pending erasure requests; then compacts the store's file
// (when it has one) and records the erasure in the audit without personal
// data. by names who asked (an admin's username, "kefu erase"). The steps
// are ordered so that a crash part-way leaves the visitor findable: the
// same Erase again finishes the job.
func (s *Service) Erase(ctx context.Context, ids []string, by string) (Receipt, error) {
	found, err := s.visitors(ids)
	if err != nil {
		return Receipt{}, err
	}
	subj := Subject{}
	var r Receipt
	for _, f := range found {
		subj.VisitorIDs = append(subj.VisitorIDs, f.Visitor.ID)
		if e := f.Visitor.Traits["email"]; e != "" {
			subj.Emails = append(subj.Emails, e)
		}
		if c := f.Visitor.Contact; c != nil && c.Email != "" && !slices.Contains(subj.Emails, c.Email) {
			subj.Emails = append(subj.Emails, c.Email)
		}
		if f.Visitor.Fingerprint != "" {
			subj.Fingerprints = append(subj.Fingerprints, f.Visitor.Fingerprint)
		}
		convs := f.Conversations
		if f.Visitor.ConversationID != "" && !slices.ContainsFunc(convs, func(c store.Conversation) bool { return c.ID == f.Visitor.ConversationID }) {
			// Its record names no visitor we matched (or is already gone):
			// delete it by id all the same.
			subj.ConversationIDs = append(subj.ConversationIDs, f.Visitor.ConversationID)
		}
		for _, c := range convs {
			subj.ConversationIDs = append(subj.ConversationIDs, c.ID)
			msgs, err := s.st.Messages(c.ID, 0, 0)
			if err != nil {
				return Receipt{}, fmt.Errorf("privacy: erase: read %s: %w", c.ID, err)
			}
			r.Messages += len(msgs)
			for _, m := range msgs {
				if m.From == protocol.FromVisitor {
					subj.Texts = append(subj.Texts, m.Text)
				}
			}
		}
	}
	for _, e := range s.opts.Erasers {
		if err := e.Erase(ctx, subj); err != nil {
			return Receipt{}, fmt.Errorf("privacy: erase: %s: %w", e.Name(), err)
		}
		r.Erasers = append(r.Erasers, e.Name())
	}
	if r.Conversations, err = s.st.DeleteConversations(ctx, subj.ConversationIDs); err != nil {
		return Receipt{}, fmt.Errorf("privacy: erase: %w", err)
	}
	if _, err = s.st.DeleteVisitors(ctx, subj.VisitorIDs); err != nil {
		return Receipt{}, fmt.Errorf("privacy: erase: %w", err)
	}
	// Counted from what was found: on D1 a visitor goes with its
	// conversation, so the second delete finds fewer.
	r.Visitors = len(subj.VisitorIDs)
	if err := s.dropRequests(ctx, subj.VisitorIDs); err != nil {
		return r, err
	}
	if c, ok := s.st.(Compacter); ok {
		st, err := c.Compact(ctx)
		if err != nil {
			return r, fmt.Errorf("privacy: erase: %w", err)
		}
		r.Compacted = &st
	}
	entry := AuditEntry{At: s.opts.Now().UTC(), By: by, Kind: "erasure", Visitors: HashIDs(subj.VisitorIDs),
		Conversations: r.Conversations, Messages: r.Messages, Erasers: r.Erasers, Compacted: r.Compacted != nil}
	if err := s.audit(ctx, entry); err != nil {
		return r, err
	}
	s.opts.Log.Info("privacy: erased", "visitors", entry.Visitors, "conversations", r.Conversations, "messages", r.Messages, "by", by)
	return r, nil
}

// HashID is how the audit names a visitor: the SHA-256 of the id, so a
// shop can answer "was the visitor with this id erased?" without the
// audit linking to anything.
func HashID(id string) string {
	h := sha256.Sum256([]byte("kefu-visitor:" + id))
	return hex.EncodeToString(h[:16])
}

// HashIDs hashes each id.
func HashIDs(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = HashID(id)
	}
	return out
}
