package d1

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// CreateVisitor stores a new visitor, known by the hash of its token, with
// an empty open conversation handled by the bot. The conversation is
// written first: a failure between the two statements leaves a
// conversation nobody can reach, never a visitor without one. The
// language a fill (store.Fill) sets is stored with the visitor; D1 keeps
// no visitor context (the edge has no agents to show it to).
func (s *Store) CreateVisitor(ctx context.Context, tokenHash []byte, fingerprint string, fill ...store.Fill) (store.Visitor, store.Conversation, error) {
	now := s.now()
	v := store.NewVisitor(fingerprint, now, fill)
	c := store.NewConversation(v.ConversationID, v.ID, now)
	if _, err := s.exec(ctx, qInsertConversation, c.ID, c.VisitorID, c.Status, c.Handler, toMillis(now)); err != nil {
		return store.Visitor{}, store.Conversation{}, wrap("create visitor", err)
	}
	if _, err := s.exec(ctx, qInsertVisitor, v.ID, hex.EncodeToString(tokenHash), v.ConversationID, fingerprint, toMillis(now), v.Lang); err != nil {
		return store.Visitor{}, store.Conversation{}, wrap("create visitor", err)
	}
	return v, c, nil
}

// VisitorByToken finds the visitor whose token hashes to tokenHash.
func (s *Store) VisitorByToken(tokenHash []byte) (store.Visitor, error) {
	v, _, err := scanVisitor(s.queryRow(context.Background(), qVisitorByToken, hex.EncodeToString(tokenHash)))
	if errors.Is(err, errNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Visitor{}, wrap("visitor by token", err)
	}
	return v, nil
}

// Visitor returns a visitor by id.
func (s *Store) Visitor(id string) (store.Visitor, error) {
	v, _, err := scanVisitor(s.queryRow(context.Background(), qVisitor, id))
	if errors.Is(err, errNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Visitor{}, wrap("visitor "+id, err)
	}
	return v, nil
}

// UpdateVisitor applies fn to a visitor and stores its fingerprint,
// traits and language, if nobody changed the visitor meanwhile; otherwise fn runs again
// on the newer one. An error from fn aborts the update and is returned.
func (s *Store) UpdateVisitor(ctx context.Context, id string, fn func(*store.Visitor) error) (store.Visitor, error) {
	var out store.Visitor
	err := retry(ctx, s.opts.Attempts, s.opts.Backoff, func() error {
		v, version, err := scanVisitor(s.queryRow(ctx, qVisitor, id))
		if errors.Is(err, errNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := fn(&v); err != nil {
			return err
		}
		traits, err := encodeTraits(v.Traits)
		if err != nil {
			return err
		}
		n, err := s.exec(ctx, qUpdateVisitor, id, v.Fingerprint, traits, version, v.Lang)
		if err != nil {
			return err
		}
		if n == 0 {
			return errConflict
		}
		out = v
		return nil
	})
	if err != nil {
		return store.Visitor{}, wrap("update visitor "+id, err)
	}
	return out, nil
}

// Conversation returns a conversation by id.
func (s *Store) Conversation(id string) (store.Conversation, error) {
	c, _, err := scanConversation(s.queryRow(context.Background(), qConversation, id))
	if errors.Is(err, errNoRows) {
		err = fmt.Errorf("conversation %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Conversation{}, wrap("conversation "+id, err)
	}
	return c, nil
}

// errReadOnlyField refuses an update function that changed what only
// appends may change.
var errReadOnlyField = errors.New("d1: an update may change a conversation's status, handler and agent only")

// UpdateConversation applies fn to a conversation and stores its status,
// handler and agent, if they are unchanged since they were read; otherwise
// fn runs again on the newer conversation. fn may run more than once and
// must only change the value it is given; an error from fn aborts the
// update and is returned. The counters, preview and intent belong to
// appends (the schema's trigger): changing them is an error.
func (s *Store) UpdateConversation(ctx context.Context, id string, fn func(*store.Conversation) error) (store.Conversation, error) {
	var out store.Conversation
	err := retry(ctx, s.opts.Attempts, s.opts.Backoff, func() error {
		before, _, err := scanConversation(s.queryRow(ctx, qConversation, id))
		if errors.Is(err, errNoRows) {
			return fmt.Errorf("conversation %s: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		c := before
		if err := fn(&c); err != nil {
			return err
		}
		if !onlyRoutingChanged(before, c) {
			return errReadOnlyField
		}
		now := s.now()
		n, err := s.exec(ctx, qUpdateConversation, id, c.Status, c.Handler, c.AgentID, toMillis(now),
			before.Status, before.Handler, before.AgentID)
		if err != nil {
			return err
		}
		if n == 0 {
			return errConflict
		}
		if now.After(c.UpdatedAt) {
			c.UpdatedAt = now
		}
		out = c
		return nil
	})
	if err != nil {
		return store.Conversation{}, wrap("update conversation "+id, err)
	}
	return out, nil
}

// onlyRoutingChanged reports whether after differs from before in status,
// handler and agent at most.
func onlyRoutingChanged(before, after store.Conversation) bool {
	after.Status, after.Handler, after.AgentID = before.Status, before.Handler, before.AgentID
	return after == before
}
