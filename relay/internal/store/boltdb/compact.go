package boltdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
)

// compactSuffix names the new file while Compact writes it.
const compactSuffix = ".compact"

// compactTxBytes bounds one transaction of the copy: memory, not speed.
const compactTxBytes = 64 << 20

// Compact copies every live record into a new file and puts it in the
// old one's place, so that the bytes of deleted records leave the
// database file. bbolt frees a deleted record's page but keeps its old
// bytes until the page is reused, which may be never; erasure and
// retention call Compact after deleting (docs/privacy.md).
//
// Writes wait while the copy is made (they queue behind it on the writer
// goroutine, as behind a long commit); reads go on, except for the moment
// the files are swapped. The cost grows with the size of the live data
// (docs/benchmarks.md). A crash during the copy leaves the old file whole
// and a partial copy that the next Open removes; the rename is atomic.
func (s *Store) Compact(ctx context.Context) (store.CompactStats, error) {
	var st store.CompactStats
	o := &op{exclusive: func() error {
		var err error
		st, err = s.compact()
		return err
	}, done: make(chan error, 1)}
	if err := s.submit(ctx, o); err != nil {
		return st, fmt.Errorf("store: compact: %w", err)
	}
	return st, nil
}

// compact runs on the writer goroutine, so no write is in flight.
func (s *Store) compact() (store.CompactStats, error) {
	start := time.Now()
	var st store.CompactStats
	path := s.db.Path()
	tmp := path + compactSuffix
	if fi, err := os.Stat(path); err == nil {
		st.BytesBefore = fi.Size()
	}
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return st, err
	}
	// The copy's transactions are not fsynced one by one: nothing is
	// acknowledged from it until the rename, so one fsync at the end makes
	// it whole on disk before it takes the old file's place.
	opts := boltOptions(s.opts)
	opts.NoSync, opts.NoFreelistSync = true, true
	dst, err := bolt.Open(tmp, 0o600, opts)
	if err != nil {
		return st, fmt.Errorf("open %s: %w", tmp, err)
	}
	err = bolt.Compact(dst, s.db, compactTxBytes)
	if err == nil {
		err = dst.Sync()
	}
	if err != nil {
		dst.Close()
		os.Remove(tmp)
		return st, fmt.Errorf("copy: %w", err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return st, fmt.Errorf("close copy: %w", err)
	}

	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	if err := s.db.Close(); err != nil {
		return st, fmt.Errorf("close: %w", err)
	}
	renameErr := os.Rename(tmp, path)
	if renameErr == nil {
		renameErr = syncDir(filepath.Dir(path))
	}
	// Open again whatever happened: on a failed rename, the old file.
	db, err := bolt.Open(path, 0o600, boltOptions(s.opts))
	if err != nil {
		return st, fmt.Errorf("reopen %s: %w", path, errors.Join(renameErr, err))
	}
	s.db = db
	if renameErr != nil {
		os.Remove(tmp)
		return st, fmt.Errorf("rename: %w", renameErr)
	}
	if fi, err := os.Stat(path); err == nil {
		st.BytesAfter = fi.Size()
	}
	st.Took = time.Since(start)
	s.opts.Logger.Info("store: compacted", "before", st.BytesBefore, "after", st.BytesAfter, "took", st.Took)
	return st, nil
}
