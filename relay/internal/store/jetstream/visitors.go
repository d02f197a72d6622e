package jetstream

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/nats-io/nats.go/jetstream"
)

// CreateVisitor stores a new visitor, known by the hash of its token, with
// an empty open conversation handled by the bot. The token is written
// last: a failure part-way leaves records nobody can reach, never a token
// without its visitor. fill (store.Fill) sets what else the visitor
// starts with, in its first record.
func (s *Store) CreateVisitor(ctx context.Context, tokenHash []byte, fingerprint string, fill ...store.Fill) (store.Visitor, store.Conversation, error) {
	end, err := s.begin()
	if err != nil {
		return store.Visitor{}, store.Conversation{}, fmt.Errorf("store: create visitor: %w", err)
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	now := s.opts.Now()
	v := store.NewVisitor(fingerprint, now, fill)
	c := store.NewConversation(v.ConversationID, v.ID, now)
	err = func() error {
		mark, err := s.markPending(ctx, c.ID)
		if err != nil {
			return err
		}
		created := store.ConversationEvent(store.EventConversationCreated, c, now)
		if err := createJSON(ctx, s.convs, c.ID, record{Conversation: c, Pending: []store.Event{created}}); err != nil {
			return err
		}
		if err := s.flush(ctx, c.ID); err != nil {
			s.opts.Logger.Warn("jetstream: events left pending for FlushEvents", "conversation", c.ID, "err", err)
		} else {
			s.unmark(ctx, c.ID, mark)
		}
		if err := s.addIdentities(ctx, store.IdentityKeys(&v), v.ID); err != nil {
			return err
		}
		if err := createJSON(ctx, s.visitors, v.ID, v); err != nil {
			return err
		}
		if _, err := s.tokens.Create(ctx, hex.EncodeToString(tokenHash), []byte(v.ID)); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				return fmt.Errorf("token hash already in use")
			}
			return err
		}
		return nil
	}()
	if err != nil {
		return store.Visitor{}, store.Conversation{}, fmt.Errorf("store: create visitor: %w", err)
	}
	return v, c, nil
}

// VisitorByToken finds the visitor whose token hashes to tokenHash.
func (s *Store) VisitorByToken(tokenHash []byte) (store.Visitor, error) {
	ctx, cancel := s.readCtx()
	defer cancel()
	e, err := s.tokens.Get(ctx, hex.EncodeToString(tokenHash))
	if err != nil {
		return store.Visitor{}, fmt.Errorf("store: visitor by token: %w", notFound(err))
	}
	var v store.Visitor
	if _, err := getJSON(ctx, s.visitors, string(e.Value()), &v); err != nil {
		return store.Visitor{}, fmt.Errorf("store: visitor by token: %w", err)
	}
	return v, nil
}

// Visitor returns a visitor by id.
func (s *Store) Visitor(id string) (store.Visitor, error) {
	ctx, cancel := s.readCtx()
	defer cancel()
	var v store.Visitor
	if _, err := getJSON(ctx, s.visitors, id, &v); err != nil {
		return store.Visitor{}, fmt.Errorf("store: visitor %s: %w", id, err)
	}
	return v, nil
}

// UpdateVisitor applies fn to a visitor and stores it if nobody changed it
// meanwhile; otherwise fn runs again on the newer one.
func (s *Store) UpdateVisitor(ctx context.Context, id string, fn func(*store.Visitor) error) (store.Visitor, error) {
	var out store.Visitor
	var gone []string
	err := s.update(ctx, s.visitors, id, func(data []byte) ([]byte, error) {
		var before, v store.Visitor
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("decode visitor: %w", err)
		}
		json.Unmarshal(data, &before)
		if err := fn(&v); err != nil {
			return nil, err
		}
		// New identity entries before the visitor (see identity.go).
		var add []string
		add, gone = store.IdentityChange(&before, &v)
		if err := s.addIdentities(ctx, add, id); err != nil {
			return nil, err
		}
		out = v
		return json.Marshal(v)
	})
	if err != nil {
		return store.Visitor{}, fmt.Errorf("store: update visitor %s: %w", id, err)
	}
	if err := s.dropIdentities(ctx, gone, id); err != nil {
		// An entry too many is not trusted by VisitorsByIdentity.
		s.opts.Logger.Warn("jetstream: identity entries left behind", "visitor", id, "err", err)
	}
	return out, nil
}

// Conversation returns a conversation by id, as of its newest stored
// message (see ahead).
func (s *Store) Conversation(id string) (store.Conversation, error) {
	ctx, cancel := s.readCtx()
	defer cancel()
	r, _, err := s.getRecord(ctx, id)
	if err == nil {
		err = s.ahead(ctx, &r)
	}
	if err != nil {
		return store.Conversation{}, fmt.Errorf("store: %w", err)
	}
	return r.Conversation, nil
}

// errReadOnlyField refuses an update function that changed what only
// appends may change.
var errReadOnlyField = errors.New("an update may change a conversation's status, handler and agent only")

// UpdateConversation applies fn to a conversation and stores its status,
// handler and agent if nobody changed the conversation meanwhile;
// otherwise fn runs again on the newer one. An error from fn aborts the
// update and is returned. What appends keep (seqs, preview, intent) is
// theirs: changing it is an error.
func (s *Store) UpdateConversation(ctx context.Context, id string, fn func(*store.Conversation) error) (store.Conversation, error) {
	out, err := s.changeRecord(ctx, id, func(r *record) error {
		c := r.Conversation
		if err := fn(&c); err != nil {
			return err
		}
		before := r.Conversation
		before.Status, before.Handler, before.AgentID = c.Status, c.Handler, c.AgentID
		if before != c {
			return errReadOnlyField
		}
		now := s.opts.Now()
		if now.After(c.UpdatedAt) {
			c.UpdatedAt = now
		}
		r.Pending = append(r.Pending, store.EventsFor(r.Conversation, c, now)...)
		r.Conversation = c
		return nil
	})
	if err != nil {
		return store.Conversation{}, fmt.Errorf("store: update conversation %s: %w", id, err)
	}
	return out, nil
}

// Conversations returns the conversations keep accepts, newest activity
// first. It reads every record, as the bbolt backend does.
func (s *Store) Conversations(keep func(*store.Conversation) bool) ([]store.Conversation, error) {
	ctx, cancel := s.readCtx()
	defer cancel()
	var out []store.Conversation
	err := s.scan(ctx, s.convs, func(_ string, data []byte) error {
		var r record
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("decode conversation: %w", err)
		}
		if keep == nil || keep(&r.Conversation) {
			out = append(out, r.Conversation)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: conversations: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UpdatedAt.After(out[j].UpdatedAt) })
	return out, nil
}

// LinkUser makes the device whose token hashes to tokenHash use the
// visitor userKey names (store.UserKey), or, when it names none (or a
// visitor erased since), makes userKey name visitorID. The user's key is
// claimed with a create, so two devices linking at once end on one
// visitor; the device's token is written last, and a failure before it
// leaves the device where it was.
func (s *Store) LinkUser(ctx context.Context, userKey, tokenHash []byte, visitorID string) (store.Visitor, error) {
	end, err := s.begin()
	if err != nil {
		return store.Visitor{}, fmt.Errorf("store: link user: %w", err)
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	v, err := s.linkUser(ctx, hex.EncodeToString(userKey), visitorID)
	if err == nil {
		_, err = s.tokens.Put(ctx, hex.EncodeToString(tokenHash), []byte(v.ID))
	}
	if err != nil {
		return store.Visitor{}, fmt.Errorf("store: link user to %s: %w", visitorID, err)
	}
	return v, nil
}

// linkUser returns the visitor the user's key names, claiming it for
// visitorID when it names none that exists.
func (s *Store) linkUser(ctx context.Context, key, visitorID string) (store.Visitor, error) {
	for range 5 {
		var v store.Visitor
		e, err := s.tokens.Get(ctx, key)
		switch {
		case err == nil:
			_, gerr := getJSON(ctx, s.visitors, string(e.Value()), &v)
			if gerr == nil {
				return v, nil
			}
			if !errors.Is(gerr, store.ErrNotFound) {
				return v, gerr
			}
			// An erased visitor's key left behind: claim it over.
			if _, err := getJSON(ctx, s.visitors, visitorID, &v); err != nil {
				return v, err
			}
			if _, err := s.tokens.Update(ctx, key, []byte(visitorID), e.Revision()); err != nil && !conflict(err) {
				return v, err
			} else if err == nil {
				return v, nil
			}
		case errors.Is(notFound(err), store.ErrNotFound):
			if _, err := getJSON(ctx, s.visitors, visitorID, &v); err != nil {
				return v, err
			}
			if _, err := s.tokens.Create(ctx, key, []byte(visitorID)); err == nil {
				return v, nil
			} else if !errors.Is(err, jetstream.ErrKeyExists) {
				return v, err
			}
		default:
			return v, err
		}
		// Another device claimed it meanwhile: read it again.
	}
	return store.Visitor{}, errors.New("the user's key keeps changing")
}
