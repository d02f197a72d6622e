package boltdb

import (
	"context"
	"encoding/binary"
	"log/slog"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
)

// A file from before the identity index (schema 3) gets it filled when
// the relay opens it: the visitors stored then are found by identity.
func TestOpenIndexesIdentitiesOfAnOlderFile(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Logger: slog.New(slog.DiscardHandler)}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v, _, err := s.CreateVisitor(ctx, []byte("token-1"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateVisitor(ctx, v.ID, func(v *store.Visitor) error { v.Traits = map[string]string{"email": "ann@example.com"}; return nil }); err != nil {
		t.Fatal(err)
	}
	// Make it the older file: no index, schema 3.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketIdentities); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint64(nil, 3))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.VisitorsByIdentity(store.IdentityKey(store.IdentityEmail, "ann@example.com"))
	if err != nil || len(got) != 1 || got[0].ID != v.ID {
		t.Fatalf("after the upgrade: %+v, %v", got, err)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}
