package boltdb

import (
	"context"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the database to w while the relay
// serves: bbolt's Tx.WriteTo in one read transaction, so the copy is the
// database as of one commit, and writers carry on meanwhile. It returns
// the bytes written.
//
// A long read transaction makes a commit that must grow the file wait
// for it (bbolt remaps the file then), so w should be fast: a local file,
// not a slow network peer.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	if err != nil {
		return n, fmt.Errorf("store: backup: %w", err)
	}
	return n, nil
}

// BackupFile writes a copy of the database file at path, which no relay
// holds, to w.
func BackupFile(ctx context.Context, path string, lockTimeout time.Duration, w io.Writer) (int64, error) {
	var n int64
	err := withReadOnly(path, lockTimeout, func(tx *bolt.Tx, cut error) error {
		if cut != nil {
			return cut // a copy would be as short; kefu repair salvages it
		}
		var err error
		n, err = tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	if err != nil {
		return n, fmt.Errorf("store: backup: %w", err)
	}
	return n, nil
}

// ctxWriter stops a copy when its context ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
