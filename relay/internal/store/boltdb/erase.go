package boltdb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
)

// Visitors returns the visitors keep accepts (all when keep is nil). It
// scans them all, as Conversations does: finding someone by email or
// trait is an admin's rare request, not a hot path.
func (s *Store) Visitors(keep func(*store.Visitor) bool) ([]store.Visitor, error) {
	var out []store.Visitor
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketVisitors).ForEach(func(k, v []byte) error {
			var vis store.Visitor
			if err := json.Unmarshal(v, &vis); err != nil {
				return fmt.Errorf("decode visitor %s: %w", k, err)
			}
			if keep == nil || keep(&vis) {
				out = append(out, vis)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: visitors: %w", err)
	}
	return out, nil
}

// DeleteConversations removes conversations with every message, client
// id, note, upload and attachment of theirs, in one transaction, and
// returns how many existed.
// Ids that do not exist are skipped, so a repeated call (after a crash)
// is harmless. The freed pages keep the old bytes until bbolt reuses them:
// Compact is what takes them out of the file.
func (s *Store) DeleteConversations(ctx context.Context, ids []string) (int, error) {
	n := 0
	err := s.update(ctx, func(tx *bolt.Tx) error {
		n = 0
		cb, mb := tx.Bucket(bucketConversations), tx.Bucket(bucketMessages)
		gone := make(map[string]bool, len(ids))
		for _, id := range ids {
			if id == "" {
				continue
			}
			existed := cb.Get([]byte(id)) != nil || s.batch.convs[id] != nil
			var keys [][]byte
			c := mb.Cursor()
			prefix := []byte(id)
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				if isMessageKey(k, id) || (len(k) > len(id) && k[len(id)] == clientIDMarker) {
					keys = append(keys, append([]byte(nil), k...))
				}
			}
			for _, k := range keys {
				if err := mb.Delete(k); err != nil {
					return err
				}
			}
			if _, err := deleteFiles(tx, id); err != nil {
				return err
			}
			if err := tx.Bucket(bucketNotes).Delete([]byte(id)); err != nil {
				return err
			}
			logged, err := s.deleteLogOf(tx, id)
			if err != nil {
				return err
			}
			if err := cb.Delete([]byte(id)); err != nil {
				return err
			}
			s.dropConv(id)
			gone[id] = true
			if existed || len(keys) > 0 || logged > 0 {
				n++
			}
		}
		return deleteEventsOf(tx, gone)
	}, nil)
	if err != nil {
		return 0, fmt.Errorf("store: delete conversations: %w", err)
	}
	return n, nil
}

// DeleteVisitors removes visitors and every token that names them, in one
// transaction, and returns how many existed. Their conversations are not
// touched: delete those first (DeleteConversations), so a crash in between
// leaves the visitor to be found and erased again. Tokens are found by one
// scan of the token index, whatever the number of ids.
func (s *Store) DeleteVisitors(ctx context.Context, ids []string) (int, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	n := 0
	err := s.update(ctx, func(tx *bolt.Tx) error {
		n = 0
		tb, vb := tx.Bucket(bucketTokens), tx.Bucket(bucketVisitors)
		var tokens [][]byte
		err := tb.ForEach(func(k, v []byte) error {
			if want[string(v)] {
				tokens = append(tokens, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range tokens {
			if err := tb.Delete(k); err != nil {
				return err
			}
		}
		for id := range want {
			if vb.Get([]byte(id)) == nil {
				continue
			}
			var v store.Visitor
			if getJSON(vb, []byte(id), &v) == nil {
				if err := reindexVisitor(tx, &v, nil); err != nil {
					return err
				}
			}
			if err := vb.Delete([]byte(id)); err != nil {
				return err
			}
			n++
		}
		return nil
	}, nil)
	if err != nil {
		return 0, fmt.Errorf("store: delete visitors: %w", err)
	}
	return n, nil
}
