package boltdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrCannotCommit is what Ready reports while the database cannot commit
// (a full disk, an I/O error).
var ErrCannotCommit = errors.New("the database cannot commit")

// Readiness probe sizes and pace. probeBytes is written and synced next
// to the database: a commit that must grow the file needs that much room
// at least (bbolt writes whole pages, several per commit).
const (
	probeBytes = 1 << 20
	probeEvery = time.Second
)

var keyProbe = []byte("probe")

// health tracks whether commits succeed. A failed commit marks the store
// unready until a probe — room on the disk and a commit of its own —
// succeeds; commits that succeed meanwhile do not clear it, since small
// ones may fit where the next large one will not.
type health struct {
	failed atomic.Bool
	mu     sync.Mutex // one probe at a time
	last   time.Time
	err    error
}

// Ready is nil when the store can commit. After a failed commit it probes,
// at most once a second (callers in between get the last answer).
func (s *Store) Ready(ctx context.Context) error {
	if !s.health.failed.Load() {
		return nil
	}
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.failed.Load() {
		return nil
	}
	if now := s.opts.Now(); now.Sub(h.last) >= probeEvery || h.err == nil {
		h.last = now
		h.err = s.probe(ctx)
		if h.err == nil {
			h.failed.Store(false)
			s.opts.Logger.Info("store: commits work again")
		}
	}
	return h.err
}

func (s *Store) probe(ctx context.Context) error {
	if err := probeSpace(filepath.Dir(s.Path())); err != nil {
		return fmt.Errorf("%w: %w", ErrCannotCommit, err)
	}
	stamp := []byte(s.opts.Now().UTC().Format(time.RFC3339Nano))
	err := s.update(ctx, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyProbe, stamp) }, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCannotCommit, err)
	}
	return nil
}

// probeSpace writes probeBytes into a file in dir, syncs and removes it.
func probeSpace(dir string) error {
	f, err := os.CreateTemp(dir, ".kefu-probe-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, probeBytes))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
