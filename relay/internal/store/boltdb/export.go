package boltdb

import (
	"encoding/json"
	"fmt"

	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
)

// Export walks what the store holds that its other methods cannot list, for
// moving it elsewhere (kefu migrate): each visitor with its token hash,
// each session with its hash, each setting with its raw value. Accounts,
// conversations and messages come from Accounts, Conversations and
// Messages. Slices given to the callbacks are copies.
type Export struct {
	Visitor func(tokenHash []byte, v store.Visitor) error
	Session func(hash []byte, s store.Session) error
	Setting func(name string, value []byte) error
}

// Export calls e's callbacks (nil ones are skipped) in one read
// transaction, so what they see is one consistent moment.
func (s *Store) Export(e Export) error {
	err := s.view(func(tx *bolt.Tx) error {
		if e.Visitor != nil {
			vb := tx.Bucket(bucketVisitors)
			err := tx.Bucket(bucketTokens).ForEach(func(k, id []byte) error {
				var v store.Visitor
				if err := getJSON(vb, id, &v); err != nil {
					return fmt.Errorf("visitor %s: %w", id, err)
				}
				return e.Visitor(append([]byte(nil), k...), v)
			})
			if err != nil {
				return err
			}
		}
		if e.Session != nil {
			err := tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
				var sess store.Session
				if err := json.Unmarshal(v, &sess); err != nil {
					return fmt.Errorf("decode session: %w", err)
				}
				return e.Session(append([]byte(nil), k...), sess)
			})
			if err != nil {
				return err
			}
		}
		if e.Setting != nil {
			return tx.Bucket(bucketSettings).ForEach(func(k, v []byte) error {
				return e.Setting(string(k), append([]byte{}, v...))
			})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: export: %w", err)
	}
	return nil
}
