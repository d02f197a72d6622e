// Package profile is who an agent talks to: a conversation's visitor with
// their traits and context, and the same person's other conversations
// (GET /v1/agent/conversations/{id}/visitor). It is apart from visitctx,
// which the edge build links, so the edge does not carry the agents' API.
package profile

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// Store is what a visitor's profile needs of the store.
type Store interface {
	Conversation(id string) (store.Conversation, error)
	Visitor(id string) (store.Visitor, error)
	// VisitorsByIdentity: the visitors under an identity key
	// (store.IdentityKey), from the store's index.
	VisitorsByIdentity(key string) ([]store.Visitor, error)
}

// MaxEarlier bounds the earlier conversations a profile lists.
const MaxEarlier = 20

// Profile is who an agent talks to in a conversation: the visitor's
// traits, language and context, and the conversations the same person
// had as other visitors (another device, a cleared browser).
type Profile struct {
	VisitorID string            `json:"visitor_id"`
	Traits    map[string]string `json:"traits,omitempty"`
	Lang      string            `json:"lang,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	// Context is nil when the relay learnt none (a visitor from before
	// visitor context, or from the edge).
	Context *store.VisitorContext `json:"context,omitempty"`
	// Earlier are the same person's other conversations, newest first;
	// MatchedBy says how they were recognised.
	Earlier   []Earlier `json:"earlier"`
	MatchedBy string    `json:"matched_by,omitempty"`
}

// Earlier is one of the person's other conversations.
type Earlier struct {
	ConversationID string    `json:"conversation_id"`
	VisitorID      string    `json:"visitor_id"`
	Status         string    `json:"status"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	Preview        string    `json:"preview,omitempty"`
	LastSeq        uint64    `json:"last_seq"`
}

// How a visitor is recognised as the same person (Profile.MatchedBy).
const (
	// MatchVerified: the same user id with a verified user_hash on both
	// (Kefu.identify with signed identity): nobody can claim it.
	MatchVerified = store.IdentityVerified
	// MatchUserID: the same user_id trait, unsigned: the page said so.
	MatchUserID = store.IdentityUserID
	// MatchEmail: the same email trait, or the email left in the chat.
	MatchEmail = store.IdentityEmail
)

// ProfileOf is the profile of the visitor of conversation convID. Earlier
// conversations are looked up by the visitor's strongest identity: a
// verified user id matches only other verified visitors with that id,
// and an unsigned one only unsigned ones (a page cannot claim a verified
// customer's history); else the same email, among visitors that are
// not verified. It is one lookup in the store's identity index (kept by
// every change of a visitor and every erasure), not a scan of visitors.
func ProfileOf(st Store, convID string) (Profile, error) {
	c, err := st.Conversation(convID)
	if err != nil {
		return Profile{}, fmt.Errorf("visitor profile: %w", err)
	}
	v, err := st.Visitor(c.VisitorID)
	if err != nil {
		return Profile{}, fmt.Errorf("visitor profile: %w", err)
	}
	p := Profile{VisitorID: v.ID, Traits: v.Traits, Lang: v.Lang, CreatedAt: v.CreatedAt, Context: v.Context, Earlier: []Earlier{}}
	how, key := store.Identity(&v)
	if how == "" {
		return p, nil
	}
	p.MatchedBy = how
	found, err := st.VisitorsByIdentity(store.IdentityKey(how, key))
	if err != nil {
		return p, fmt.Errorf("visitor profile: earlier: %w", err)
	}
	same := slices.DeleteFunc(found, func(o store.Visitor) bool { return o.ID == v.ID })
	for _, o := range same {
		oc, err := st.Conversation(o.ConversationID)
		if errors.Is(err, store.ErrNotFound) {
			continue // erased or swept meanwhile
		}
		if err != nil {
			return p, fmt.Errorf("visitor profile: earlier: %w", err)
		}
		p.Earlier = append(p.Earlier, Earlier{ConversationID: oc.ID, VisitorID: o.ID, Status: oc.Status, CreatedAt: oc.CreatedAt,
			UpdatedAt: oc.UpdatedAt, Preview: oc.Preview, LastSeq: oc.LastSeq})
	}
	slices.SortFunc(p.Earlier, func(a, b Earlier) int { return b.UpdatedAt.Compare(a.UpdatedAt) })
	if len(p.Earlier) > MaxEarlier {
		p.Earlier = p.Earlier[:MaxEarlier]
	}
	return p, nil
}
