package boltdb

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
)

// compactSuffix named the copy an older Compact wrote; Open still removes
// one a crash left behind.
const compactSuffix = ".compact"

// wipeStepPages bounds the pages one step of Compact overwrites while
// writes (and reads) wait: 8 MiB at bbolt's 4 KiB pages, a few tens of
// milliseconds, like one large group commit.
const wipeStepPages = 2048

// Compact makes the bytes of deleted records leave the database file: it
// overwrites every page that is free when it starts with zeros, in place,
// and fsyncs. bbolt frees a deleted record's page but keeps its old bytes
// until the page is reused, which may be never; erasure and retention call
// Compact after deleting (docs/privacy.md).
//
// The cost is the free pages, not the file: the live data is not copied.
// The pages are wiped in steps of wipeStepPages, each on the writer
// goroutine with readers held off (nothing may read a page while it is
// zeroed); between steps writes and reads go on, so a chat stalls for one
// step at most, not for the whole file. A page reused by a write between
// two steps was overwritten by it and is skipped. A crash mid-way leaves a
// sound file: only pages no committed tree points at were touched.
func (s *Store) Compact(ctx context.Context) (store.CompactStats, error) {
	start := time.Now()
	var st store.CompactStats
	var free []int
	err := s.exclusive(ctx, func() error {
		if fi, err := os.Stat(s.db.Path()); err == nil {
			st.BytesBefore = fi.Size()
		}
		var err error
		free, err = s.freePages()
		return err
	})
	if err != nil {
		return st, fmt.Errorf("store: compact: list free pages: %w", err)
	}
	for len(free) > 0 {
		if s.wipeStep != nil {
			s.wipeStep()
		}
		n := wipeStepPages
		if s.wipeStepPages > 0 {
			n = s.wipeStepPages
		}
		step := free[:min(len(free), n)]
		free = free[len(step):]
		var wiped int
		err := s.exclusive(ctx, func() error {
			var err error
			wiped, err = s.wipe(step)
			return err
		})
		if err != nil {
			return st, fmt.Errorf("store: compact: wipe free pages: %w", err)
		}
		st.PagesWiped += wiped
	}
	if fi, err := os.Stat(s.Path()); err == nil {
		st.BytesAfter = fi.Size()
	}
	st.Took = time.Since(start)
	s.opts.Logger.Info("store: compacted", "bytes", st.BytesAfter, "pages_wiped", st.PagesWiped, "took", st.Took)
	return st, nil
}

// exclusive runs fn on the writer goroutine, between two commits, with
// readers held off.
func (s *Store) exclusive(ctx context.Context, fn func() error) error {
	return s.submit(ctx, &op{exclusive: func() error {
		s.dbMu.Lock()
		defer s.dbMu.Unlock()
		return fn()
	}, done: make(chan error, 1)})
}

// freePages lists the pages on bbolt's free list, those that later
// transactions may still reuse and those waiting for readers to finish.
// No transaction is open: the caller holds dbMu and is the writer.
func (s *Store) freePages() ([]int, error) {
	var free []int
	err := s.db.View(func(tx *bolt.Tx) error {
		for id := 2; ; id++ { // pages 0 and 1 are the meta pages
			p, err := tx.Page(id)
			if err != nil {
				return err
			}
			if p == nil { // past the high-water mark
				return nil
			}
			if p.Type == "free" {
				free = append(free, id)
			}
		}
	})
	return free, err
}

// wipe zeroes the pages of ids that are still free, then fsyncs. Same
// conditions as freePages.
func (s *Store) wipe(ids []int) (int, error) {
	size := s.db.Info().PageSize
	f, err := os.OpenFile(s.db.Path(), os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	const run = 64 // pages per write
	zero := make([]byte, run*size)
	wiped := 0
	err = s.db.View(func(tx *bolt.Tx) error {
		first, n := 0, 0 // the run of adjacent free pages to write
		flush := func() error {
			if n == 0 {
				return nil
			}
			_, err := f.WriteAt(zero[:n*size], int64(first)*int64(size))
			wiped += n
			n = 0
			return err
		}
		for _, id := range ids {
			p, err := tx.Page(id)
			if err != nil {
				return err
			}
			if p == nil || p.Type != "free" {
				continue // reused since the list was made
			}
			if n > 0 && (id != first+n || n == run) {
				if err := flush(); err != nil {
					return err
				}
			}
			if n == 0 {
				first = id
			}
			n++
		}
		return flush()
	})
	if err != nil {
		return wiped, err
	}
	if err := f.Sync(); err != nil {
		return wiped, err
	}
	return wiped, f.Close()
}
