package boltdb

import (
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
)

// bucketIdentities indexes visitors by how they are recognised as a
// person (store.IdentityKeys): the key's 16 bytes ‖ visitor id → empty.
// It changes in the transaction that changes the visitor, so it is never
// behind; schema 4 fills it for an older file.
var bucketIdentities = []byte("identities")

// putVisitor stores v, keeping the identity index in step with what v
// was before (nil: a new visitor).
func putVisitor(tx *bolt.Tx, before *store.Visitor, v store.Visitor) error {
	data, err := encodeVisitor(&v)
	if err != nil {
		return fmt.Errorf("encode visitor %s: %w", v.ID, err)
	}
	if err := tx.Bucket(bucketVisitors).Put([]byte(v.ID), data); err != nil {
		return err
	}
	return reindexVisitor(tx, before, &v)
}

// reindexVisitor applies a visitor's change (after nil: deleted) to the
// identity index.
func reindexVisitor(tx *bolt.Tx, before, after *store.Visitor) error {
	add, remove := store.IdentityChange(before, after)
	b := tx.Bucket(bucketIdentities)
	for _, k := range remove {
		if err := b.Delete(identityEntry(k, before.ID)); err != nil {
			return err
		}
	}
	for _, k := range add {
		if err := b.Put(identityEntry(k, after.ID), nil); err != nil {
			return err
		}
	}
	return nil
}

func identityEntry(key, visitorID string) []byte {
	raw, _ := hex.DecodeString(key)
	return append(raw, visitorID...)
}

// VisitorsByIdentity returns the visitors found under an identity key
// (store.IdentityKey): one seek and the entries under it, not a scan of
// every visitor.
func (s *Store) VisitorsByIdentity(key string) ([]store.Visitor, error) {
	prefix, err := hex.DecodeString(key)
	if err != nil || len(prefix) != 16 {
		return nil, fmt.Errorf("store: visitors by identity: %q is not an identity key", key)
	}
	var out []store.Visitor
	err = s.view(func(tx *bolt.Tx) error {
		vb := tx.Bucket(bucketVisitors)
		c := tx.Bucket(bucketIdentities).Cursor()
		for k, _ := c.Seek(prefix); len(k) > len(prefix) && string(k[:len(prefix)]) == string(prefix); k, _ = c.Next() {
			var v store.Visitor
			if err := getJSON(vb, k[len(prefix):], &v); err != nil {
				continue // a visitor quarantined by kefu repair
			}
			if store.HasIdentityKey(&v, key) {
				out = append(out, v)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: visitors by identity: %w", err)
	}
	return out, nil
}

// indexIdentities fills the identity index from every visitor (schema
// 3 → 4).
func indexIdentities(tx *bolt.Tx) error {
	return tx.Bucket(bucketVisitors).ForEach(func(k, data []byte) error {
		var v store.Visitor
		if err := json.Unmarshal(data, &v); err != nil {
			return nil // kefu check reports it; nothing to index
		}
		return reindexVisitor(tx, nil, &v)
	})
}
