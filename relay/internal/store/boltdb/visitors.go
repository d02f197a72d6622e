package boltdb

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/kefuhq/kefu/relay/internal/store"
	"maps"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// CreateVisitor stores a new visitor, known by the hash of its token, with
// an empty open conversation handled by the bot; fill (store.Fill) sets
// what else the visitor starts with, in the same commit.
func (s *Store) CreateVisitor(ctx context.Context, tokenHash []byte, fingerprint string, fill ...store.Fill) (store.Visitor, store.Conversation, error) {
	now := s.opts.Now()
	v := store.NewVisitor(fingerprint, now, fill)
	c := store.NewConversation(v.ConversationID, v.ID, now)
	err := s.update(ctx, func(tx *bolt.Tx) error {
		tb, vb := tx.Bucket(bucketTokens), tx.Bucket(bucketVisitors)
		tb.FillPercent, vb.FillPercent = timeOrderedFill, timeOrderedFill
		if tb.Get(tokenHash) != nil {
			return fmt.Errorf("token hash already in use")
		}
		// Ids are half random (store.NewTimeID): a clash is as unlikely
		// as a token's, and refused as one rather than overwriting.
		if vb.Get([]byte(v.ID)) != nil {
			return fmt.Errorf("visitor id %s already in use", v.ID)
		}
		if s.batch.convs[c.ID] != nil || tx.Bucket(bucketConversations).Get([]byte(c.ID)) != nil {
			return fmt.Errorf("conversation id %s already in use", c.ID)
		}
		if err := tb.Put(tokenHash, []byte(v.ID)); err != nil {
			return err
		}
		if err := putVisitor(tx, nil, v); err != nil {
			return err
		}
		s.putConv(c)
		return s.addEvent(tx, store.ConversationEvent(store.EventConversationCreated, c, now))
	}, nil)
	if err != nil {
		return store.Visitor{}, store.Conversation{}, fmt.Errorf("store: create visitor: %w", err)
	}
	return v, c, nil
}

// VisitorByToken finds the visitor whose token hashes to tokenHash.
func (s *Store) VisitorByToken(tokenHash []byte) (store.Visitor, error) {
	var v store.Visitor
	err := s.view(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketTokens).Get(tokenHash)
		if id == nil {
			return store.ErrNotFound
		}
		return getJSON(tx.Bucket(bucketVisitors), id, &v)
	})
	if err != nil {
		return store.Visitor{}, fmt.Errorf("store: visitor by token: %w", err)
	}
	return v, nil
}

// Visitor returns a visitor by id.
func (s *Store) Visitor(id string) (store.Visitor, error) {
	var v store.Visitor
	err := s.view(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketVisitors), []byte(id), &v) })
	if err != nil {
		return store.Visitor{}, fmt.Errorf("store: visitor %s: %w", id, err)
	}
	return v, nil
}

// Conversation returns a conversation by id.
func (s *Store) Conversation(id string) (store.Conversation, error) {
	var c store.Conversation
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		c, err = getConversation(tx, id)
		return err
	})
	if err != nil {
		return store.Conversation{}, fmt.Errorf("store: %w", err)
	}
	return c, nil
}

// UpdateConversation applies fn to a conversation and stores the result.
// fn may run more than once and must only change the value it is given; an
// error from fn aborts the update and is returned.
func (s *Store) UpdateConversation(ctx context.Context, id string, fn func(*store.Conversation) error) (store.Conversation, error) {
	var out store.Conversation
	err := s.update(ctx, func(tx *bolt.Tx) error {
		c, err := s.conv(tx, id)
		if err != nil {
			return err
		}
		before := c
		if err := fn(&c); err != nil {
			return err
		}
		now := s.opts.Now()
		c.UpdatedAt = now
		out = c
		s.putConv(c)
		for _, ev := range store.EventsFor(before, c, now) {
			if err := s.addEvent(tx, ev); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		return store.Conversation{}, fmt.Errorf("store: update conversation %s: %w", id, err)
	}
	return out, nil
}

func getConversation(tx *bolt.Tx, id string) (store.Conversation, error) {
	var c store.Conversation
	if err := getJSON(tx.Bucket(bucketConversations), []byte(id), &c); err != nil {
		return c, fmt.Errorf("conversation %s: %w", id, err)
	}
	return c, nil
}

func getJSON(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return store.ErrNotFound
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w: %w", key, store.ErrCorrupt, err)
	}
	return nil
}

// Conversations returns the conversations keep accepts, newest activity
// first. It scans them all: fine for the thousands of conversations a
// business has open; an index by status would be the next step.
func (s *Store) Conversations(keep func(*store.Conversation) bool) ([]store.Conversation, error) {
	var out []store.Conversation
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConversations).ForEach(func(k, v []byte) error {
			var c store.Conversation
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("decode conversation %s: %w: %w", k, store.ErrCorrupt, err)
			}
			if keep == nil || keep(&c) {
				out = append(out, c)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: conversations: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UpdatedAt.After(out[j].UpdatedAt) })
	return out, nil
}

// UpdateVisitor applies fn to a visitor and stores it; fn may run twice.
func (s *Store) UpdateVisitor(ctx context.Context, id string, fn func(*store.Visitor) error) (store.Visitor, error) {
	var out store.Visitor
	err := s.update(ctx, func(tx *bolt.Tx) error {
		var v store.Visitor
		if err := getJSON(tx.Bucket(bucketVisitors), []byte(id), &v); err != nil {
			return err
		}
		before := v
		before.Traits = maps.Clone(v.Traits)
		if v.Contact != nil {
			c := *v.Contact
			before.Contact = &c
		}
		if err := fn(&v); err != nil {
			return err
		}
		out = v
		return putVisitor(tx, &before, v)
	}, nil)
	if err != nil {
		return store.Visitor{}, fmt.Errorf("store: update visitor %s: %w", id, err)
	}
	return out, nil
}

// LinkUser makes the device whose token hashes to tokenHash use the
// visitor userKey names (store.UserKey), or, when it names none (or a
// visitor erased since), makes userKey name visitorID. One transaction.
func (s *Store) LinkUser(ctx context.Context, userKey, tokenHash []byte, visitorID string) (store.Visitor, error) {
	var v store.Visitor
	err := s.update(ctx, func(tx *bolt.Tx) error {
		tb, vb := tx.Bucket(bucketTokens), tx.Bucket(bucketVisitors)
		id := append([]byte(nil), tb.Get(userKey)...)
		if len(id) == 0 || vb.Get(id) == nil {
			id = []byte(visitorID)
			if err := tb.Put(userKey, id); err != nil {
				return err
			}
		}
		if err := getJSON(vb, id, &v); err != nil {
			return err
		}
		return tb.Put(tokenHash, id)
	}, nil)
	if err != nil {
		return store.Visitor{}, fmt.Errorf("store: link user to %s: %w", visitorID, err)
	}
	return v, nil
}
