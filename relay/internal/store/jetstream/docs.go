package jetstream

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/nats-io/nats.go/jetstream"
)

// Documents (store.Doc) are entries of one erasable bucket (they hold
// visitors' addresses and words: queued mail, webhook payloads) under
// "kind.key"; the entry's revision is the document's.

func docKey(kind, key string) (string, error) {
	if !store.ValidDocKey(kind) || !store.ValidDocKey(key) {
		return "", fmt.Errorf("document %q/%q: %w", kind, key, store.ErrNotFound)
	}
	return kind + "." + key, nil
}

// Doc reads one document.
func (s *Store) Doc(kind, key string) (store.Doc, error) {
	k, err := docKey(kind, key)
	if err != nil {
		return store.Doc{}, fmt.Errorf("store: %w", err)
	}
	ctx, cancel := s.readCtx()
	defer cancel()
	e, err := s.docs.Get(ctx, k)
	if err != nil {
		return store.Doc{}, fmt.Errorf("store: document %s/%s: %w", kind, key, notFound(err))
	}
	return store.Doc{Key: key, Data: e.Value(), Rev: e.Revision()}, nil
}

// PutDoc writes a document and returns its new revision. rev 0 creates it
// (store.ErrExists if it exists); any other rev replaces it only if it is
// still at rev (store.ErrConflict if it moved or is gone).
func (s *Store) PutDoc(ctx context.Context, kind, key string, data []byte, rev uint64) (uint64, error) {
	k, err := docKey(kind, key)
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	end, err := s.begin()
	if err != nil {
		return 0, fmt.Errorf("store: put document %s/%s: %w", kind, key, err)
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	var next uint64
	if rev == 0 {
		next, err = s.docs.Create(ctx, k, data)
		if errors.Is(err, jetstream.ErrKeyExists) {
			err = store.ErrExists
		}
	} else {
		next, err = s.docs.Update(ctx, k, data, rev)
		if conflict(err) {
			err = store.ErrConflict
		}
	}
	if err != nil {
		return 0, fmt.Errorf("store: put document %s/%s: %w", kind, key, err)
	}
	if rev != 0 {
		s.superseded(s.docs, rev)
	}
	return next, nil
}

// DeleteDoc erases a document (every stored revision) if it is still at
// rev (0: whatever its revision). A document already gone is not an error.
func (s *Store) DeleteDoc(ctx context.Context, kind, key string, rev uint64) error {
	k, err := docKey(kind, key)
	if err != nil {
		return nil
	}
	end, err := s.begin()
	if err != nil {
		return fmt.Errorf("store: delete document %s/%s: %w", kind, key, err)
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	if rev != 0 {
		e, err := s.docs.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: delete document %s/%s: %w", kind, key, err)
		}
		if e.Revision() != rev {
			return fmt.Errorf("store: delete document %s/%s: %w", kind, key, store.ErrConflict)
		}
		// Deleting with the revision guards the erase below against a
		// write that lands in between.
		if err := s.docs.Delete(ctx, k, jetstream.LastRevision(rev)); err != nil {
			if conflict(err) {
				err = store.ErrConflict
			}
			return fmt.Errorf("store: delete document %s/%s: %w", kind, key, err)
		}
	}
	if _, err := s.eraseKey(ctx, s.docs, k); err != nil {
		return fmt.Errorf("store: delete document %s/%s: %w", kind, key, err)
	}
	return nil
}

// Docs lists the documents of a kind, in key order, read from the
// bucket's leader.
func (s *Store) Docs(kind string) ([]store.Doc, error) {
	if !store.ValidDocKey(kind) {
		return nil, fmt.Errorf("store: documents of kind %q: bad kind", kind)
	}
	ctx, cancel := s.readCtx()
	defer cancel()
	prefix := kind + "."
	var keys []string
	err := s.scan(ctx, s.docs, func(key string, _ []byte) error {
		if strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: documents of kind %s: %w", kind, err)
	}
	// Each is read again for its revision (the scan's watcher does not
	// keep them): documents are few, and a compare-and-set needs it.
	sort.Strings(keys)
	out := make([]store.Doc, 0, len(keys))
	for _, k := range keys {
		e, err := s.docs.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: documents of kind %s: %w", kind, err)
		}
		out = append(out, store.Doc{Key: k[len(prefix):], Data: e.Value(), Rev: e.Revision()})
	}
	return out, nil
}
