package boltdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/kefuhq/kefu/relay/internal/store"

	bolt "go.etcd.io/bbolt"
)

// Setting reads the JSON document stored under name into v. It reports
// false, with v untouched, when nothing is stored yet.
func (s *Store) Setting(name string, v any) (bool, error) {
	err := s.view(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketSettings), []byte(name), v) })
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: setting %s: %w", name, err)
	}
	return true, nil
}

// PutSetting stores v as the JSON document name.
func (s *Store) PutSetting(ctx context.Context, name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode setting %s: %w", name, err)
	}
	err = s.update(ctx, func(tx *bolt.Tx) error { return tx.Bucket(bucketSettings).Put([]byte(name), data) }, nil)
	if err != nil {
		return fmt.Errorf("store: put setting %s: %w", name, err)
	}
	return nil
}

// SettingBytes reads a raw document (a serialised model, say).
func (s *Store) SettingBytes(name string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketSettings).Get([]byte(name)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: setting %s: %w", name, err)
	}
	return out, nil
}

// PutSettingBytes stores a raw document.
func (s *Store) PutSettingBytes(ctx context.Context, name string, data []byte) error {
	data = append([]byte(nil), data...)
	err := s.update(ctx, func(tx *bolt.Tx) error { return tx.Bucket(bucketSettings).Put([]byte(name), data) }, nil)
	if err != nil {
		return fmt.Errorf("store: put setting %s: %w", name, err)
	}
	return nil
}
