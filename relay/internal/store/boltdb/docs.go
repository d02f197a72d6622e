package boltdb

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
)

// Documents (store.Doc) live in one bucket under kind ‖ 0 ‖ key; a value
// is the revision (8 bytes, big-endian, from the bucket's sequence, so a
// revision is never reused) then the data.

func docKey(kind, key string) []byte {
	k := make([]byte, 0, len(kind)+1+len(key))
	k = append(k, kind...)
	k = append(k, 0)
	return append(k, key...)
}

func checkDocKey(kind, key string) error {
	if !store.ValidDocKey(kind) || !store.ValidDocKey(key) {
		return fmt.Errorf("document %q/%q: %w", kind, key, store.ErrNotFound)
	}
	return nil
}

// Doc reads one document.
func (s *Store) Doc(kind, key string) (store.Doc, error) {
	if err := checkDocKey(kind, key); err != nil {
		return store.Doc{}, fmt.Errorf("store: %w", err)
	}
	var d store.Doc
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketDocs).Get(docKey(kind, key))
		if len(v) < 8 {
			return store.ErrNotFound
		}
		d = store.Doc{Key: key, Rev: binary.BigEndian.Uint64(v), Data: bytes.Clone(v[8:])}
		return nil
	})
	if err != nil {
		return store.Doc{}, fmt.Errorf("store: document %s/%s: %w", kind, key, err)
	}
	return d, nil
}

// PutDoc writes a document and returns its new revision. rev 0 creates it
// (store.ErrExists if it exists); any other rev replaces it only if it is
// still at rev (store.ErrConflict if it moved, store.ErrNotFound if it is
// gone).
func (s *Store) PutDoc(ctx context.Context, kind, key string, data []byte, rev uint64) (uint64, error) {
	if err := checkDocKey(kind, key); err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	var out uint64
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDocs)
		k := docKey(kind, key)
		old := b.Get(k)
		switch {
		case rev == 0 && old != nil:
			return store.ErrExists
		case rev != 0 && old == nil:
			return store.ErrNotFound
		case rev != 0 && binary.BigEndian.Uint64(old) != rev:
			return store.ErrConflict
		}
		next, err := b.NextSequence()
		if err != nil {
			return err
		}
		out = next
		return b.Put(k, append(binary.BigEndian.AppendUint64(nil, next), data...))
	}, nil)
	if err != nil {
		return 0, fmt.Errorf("store: put document %s/%s: %w", kind, key, err)
	}
	return out, nil
}

// DeleteDoc removes a document if it is still at rev (0: whatever its
// revision). A document already gone is not an error.
func (s *Store) DeleteDoc(ctx context.Context, kind, key string, rev uint64) error {
	if err := checkDocKey(kind, key); err != nil {
		return nil
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDocs)
		k := docKey(kind, key)
		old := b.Get(k)
		if old == nil {
			return nil
		}
		if rev != 0 && binary.BigEndian.Uint64(old) != rev {
			return store.ErrConflict
		}
		return b.Delete(k)
	}, nil)
	if err != nil {
		return fmt.Errorf("store: delete document %s/%s: %w", kind, key, err)
	}
	return nil
}

// Docs lists the documents of a kind, in key order.
func (s *Store) Docs(kind string) ([]store.Doc, error) {
	if !store.ValidDocKey(kind) {
		return nil, fmt.Errorf("store: documents of kind %q: bad kind", kind)
	}
	var out []store.Doc
	err := s.view(func(tx *bolt.Tx) error {
		prefix := docKey(kind, "")
		c := tx.Bucket(bucketDocs).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(v) < 8 {
				return fmt.Errorf("document %q: %w", k, store.ErrCorrupt)
			}
			out = append(out, store.Doc{Key: string(k[len(prefix):]), Rev: binary.BigEndian.Uint64(v), Data: bytes.Clone(v[8:])})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: documents of kind %s: %w", kind, err)
	}
	return out, nil
}
