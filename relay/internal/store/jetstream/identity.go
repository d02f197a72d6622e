package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/nats-io/nats.go/jetstream"
)

// The identities bucket indexes visitors by how they are recognised as a
// person (store.IdentityKeys): key "<identity key>.<visitor id>", no
// value; the keys are hashes, so it holds no personal data. A visitor's
// change adds its new entries before the visitor is written and removes
// the old ones after: a change cut off part-way leaves an entry too many,
// which VisitorsByIdentity does not trust (it rereads each visitor),
// never one too few. Erasure removes the entries first.
const identitiesBuilt = "built" // set once every visitor of an older cluster is indexed

func identityEntry(key, visitorID string) string { return key + "." + visitorID }

// addIdentities writes the entries of identity keys for a visitor.
func (s *Store) addIdentities(ctx context.Context, keys []string, visitorID string) error {
	for _, k := range keys {
		if _, err := s.identities.Put(ctx, identityEntry(k, visitorID), nil); err != nil {
			return fmt.Errorf("identity index: %w", err)
		}
	}
	return nil
}

// dropIdentities removes a visitor's entries of identity keys.
func (s *Store) dropIdentities(ctx context.Context, keys []string, visitorID string) error {
	for _, k := range keys {
		if _, err := s.eraseKey(ctx, s.identities, identityEntry(k, visitorID)); err != nil {
			return fmt.Errorf("identity index: %w", err)
		}
	}
	return nil
}

// VisitorsByIdentity returns the visitors found under an identity key
// (store.IdentityKey): the entries under it, not a scan of every visitor.
func (s *Store) VisitorsByIdentity(key string) ([]store.Visitor, error) {
	if len(key) != 32 || strings.Trim(key, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("store: visitors by identity: %q is not an identity key", key)
	}
	ctx, cancel := s.readCtx()
	defer cancel()
	var ids []string
	err := s.scanFiltered(ctx, s.identities, key+".*", func(k string, _ []byte) error {
		ids = append(ids, strings.TrimPrefix(k, key+"."))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: visitors by identity: %w", err)
	}
	var out []store.Visitor
	for _, id := range ids {
		var v store.Visitor
		if _, err := getJSON(ctx, s.visitors, id, &v); errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("store: visitors by identity: %w", err)
		}
		if store.HasIdentityKey(&v, key) {
			out = append(out, v)
		}
	}
	return out, nil
}

// indexIdentities indexes every visitor once, for a cluster whose
// visitors were stored before the index existed. Several nodes starting
// at once may all do it: the entries are the same.
func (s *Store) indexIdentities(ctx context.Context) error {
	if _, err := s.identities.Get(ctx, identitiesBuilt); err == nil {
		return nil
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("store: jetstream: identity index: %w", err)
	}
	err := s.scan(ctx, s.visitors, func(_ string, data []byte) error {
		var v store.Visitor
		if json.Unmarshal(data, &v) != nil {
			return nil
		}
		return s.addIdentities(ctx, store.IdentityKeys(&v), v.ID)
	})
	if err != nil {
		return fmt.Errorf("store: jetstream: identity index: %w", err)
	}
	if _, err := s.identities.Put(ctx, identitiesBuilt, nil); err != nil {
		return fmt.Errorf("store: jetstream: identity index: %w", err)
	}
	return nil
}
