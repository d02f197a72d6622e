// Package boltdb keeps visitors, conversations and messages in one bbolt file.
//
// Every write goes through one writer goroutine that commits whatever writes
// are waiting in a single transaction (group commit): concurrent writers
// share an fsync, and none waits for a timer. A write's caller is answered
// only after its transaction is durably committed.
package boltdb

import (
	"context"
	"errors"
	"fmt"
	"github.com/kefuhq/kefu/relay/internal/store"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Sentinel errors.
var (
	// ErrLocked means another process holds the database file.
	ErrLocked = errors.New("database is in use by another kefu process")
	// ErrNewerSchema means the file was written by a newer kefu.
	ErrNewerSchema = errors.New("database written by a newer kefu")
)

// FileName is the database file inside the data directory.
const FileName = "kefu.db"

// Options configure Open. Zero values take the documented defaults.
type Options struct {
	// LockTimeout bounds the wait for the file lock another process holds.
	// Default 1s: a second relay on the same data directory must fail fast,
	// not hang.
	LockTimeout time.Duration
	// MaxBatch caps the writes committed together. Default 1024: large enough
	// that a busy relay pays one fsync per thousand messages, small enough
	// that one transaction stays a few hundred kilobytes.
	MaxBatch int
	// Logger receives write failures. Default discards.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// OnCommit observes every transaction the writer commits: how many writes
	// it carried, how long the commit took, and its error.
	OnCommit func(writes int, took time.Duration, err error)
	// OnAppend is called by the writer goroutine after each commit, once per
	// successful Append that stored new messages, in commit order. It must
	// not block: it is how messages reach live connections in seq order.
	OnAppend func(store.Appended)
	// OnEvents is called by the writer goroutine after a commit that put
	// events in the log (store.Event), so their readers look at once
	// instead of at their next poll. It must not block.
	OnEvents func()
	// OnLogCompact observes every step that moved message log entries
	// into the per-conversation tree or deleted moved ones: how many it
	// moved, how many entries the log holds after it, and how long it
	// took.
	OnLogCompact func(moved, left int, took time.Duration)
	// idleAfter is how long the writer waits without writes before it
	// empties the log (0: logIdle); tests set it to tell a drain started
	// by the log's length from one started by an idle store.
	idleAfter time.Duration
	// LogCompactAt is the message log's length that makes the writer move
	// it into the per-conversation tree, a chunk of logChunk entries per
	// turn between commits, until it is empty (log.go). Default 8192: the
	// log then absorbs bursts, and moves run in busy stretches rather than
	// after every commit.
	LogCompactAt int
	// NoLog writes messages straight into the per-conversation tree, as
	// kefu did before the message log: for benchmarks that compare the
	// two layouts in one run. Entries already in the log are still read
	// and moved.
	NoLog bool
	// OpenFile replaces os.OpenFile, for tests that inject write failures.
	OpenFile func(string, int, os.FileMode) (*os.File, error)
}

// Store is the relay's database.
type Store struct {
	db       *bolt.DB
	opts     Options
	writes   chan *op
	stop     chan struct{}
	stopped  chan struct{}
	closeMu  sync.RWMutex // held for reading while submitting, for writing by Close
	isClosed bool
	// dbMu is held for reading around every transaction and for writing
	// by Compact while it overwrites free pages.
	dbMu sync.RWMutex

	// Writer goroutine only: the batch being committed and the committed
	// conversations it may reuse.
	batch *batchState
	cache map[string]store.Conversation
	// log indexes the message log (log.go); logRetry holds off compaction
	// after a failed step.
	log      *logIndex
	logRetry time.Time

	health health

	// Tests only: wipeStep runs before each step of Compact's wipe, on
	// Compact's goroutine; wipeStepPages overrides the step's size.
	wipeStep      func()
	wipeStepPages int
}

type op struct {
	// exclusive, when set, runs alone on the writer goroutine instead of
	// in a transaction (a step of Compact).
	exclusive func() error
	fn        func(tx *bolt.Tx) error
	after     func()
	done      chan error
}

// Open opens (creating if needed) the database in dir and migrates it to the
// current schema.
func Open(dir string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1024
	}
	if opts.LogCompactAt <= 0 {
		opts.LogCompactAt = logCompactAt
	}
	if opts.idleAfter <= 0 {
		opts.idleAfter = logIdle
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	if err := preflight(path, opts.LockTimeout); err != nil {
		return nil, err
	}
	var db *bolt.DB
	var log *logIndex
	err := guard("store: open "+path, func() error {
		var err error
		db, err = bolt.Open(path, 0o600, boltOptions(opts))
		if err != nil {
			return openError(path, err)
		}
		// A compaction killed before its rename leaves its half-written copy.
		if err := os.Remove(path + compactSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("store: remove unfinished compaction: %w", err)
		}
		if err := migrate(db); err != nil {
			return fmt.Errorf("store: migrate %s: %w", path, err)
		}
		return db.View(func(tx *bolt.Tx) error {
			var err error
			if log, err = loadLog(tx); err != nil {
				return fmt.Errorf("store: read the message log of %s: %w", path, err)
			}
			return nil
		})
	})
	if err != nil {
		if db != nil {
			db.Close()
		}
		return nil, err
	}
	s := &Store{
		db:      db,
		opts:    opts,
		writes:  make(chan *op, opts.MaxBatch),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
		cache:   map[string]store.Conversation{},
		log:     log,
	}
	go s.writer()
	return s, nil
}

func boltOptions(opts Options) *bolt.Options {
	return &bolt.Options{
		Timeout:      opts.LockTimeout,
		FreelistType: bolt.FreelistMapType,
		OpenFile:     opts.OpenFile,
		// NoSync stays false: an acknowledged message must survive power loss.
	}
}

// Close finishes every write already submitted, then closes the file.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.isClosed {
		s.closeMu.Unlock()
		return nil
	}
	s.isClosed = true
	s.closeMu.Unlock()
	close(s.stop)
	<-s.stopped
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Path is the database file's path.
func (s *Store) Path() string {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	return s.db.Path()
}

// view runs fn in a read transaction.
func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	return s.db.View(fn)
}

// update submits fn to the writer and waits for its commit. fn may run more
// than once (when another write in its batch fails), so it must only touch
// the transaction. after runs on the writer goroutine once fn's commit
// succeeded.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error, after func()) error {
	return s.submit(ctx, &op{fn: fn, after: after, done: make(chan error, 1)})
}

// submit hands o to the writer and waits for its outcome.
func (s *Store) submit(ctx context.Context, o *op) error {
	s.closeMu.RLock()
	if s.isClosed {
		s.closeMu.RUnlock()
		return store.ErrClosed
	}
	select {
	case s.writes <- o:
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return ctx.Err()
	}
	s.closeMu.RUnlock()
	// Once submitted the write will be committed or fail within one commit;
	// waiting for it even if ctx ends keeps "returned error" meaning "not
	// stored" for every caller.
	return <-o.done
}

func (s *Store) writer() {
	defer close(s.stopped)
	batch := make([]*op, 0, s.opts.MaxBatch)
	// idle fires when no write came for logIdle while the log had entries.
	idle := time.NewTimer(s.opts.idleAfter)
	defer idle.Stop()
	// draining: the log reached LogCompactAt, or the store went idle, and
	// the writer moves it, one chunk per turn, until it is empty.
	draining := false
	// busy: the drain was started by the log's length, not by an idle
	// store. It stops at half of LogCompactAt instead of at empty: under
	// sustained writes the log's last entries are one or two per
	// conversation, and moving those costs a leaf per message, the cost
	// the log exists to avoid. An idle store still empties it.
	busy := false
	for {
		// One chunk of the log per turn at most, then the writes that
		// queued meanwhile: an acked write waits behind one chunk, not a
		// whole move.
		if !draining && s.logDue(false) {
			draining, busy = true, true
		}
		if draining {
			if busy && s.log.len() < s.opts.LogCompactAt/2 {
				draining = false
			} else if !s.logDue(true) || s.compactLog() != nil {
				draining = false // empty, or failed (logged; retried after logRetry)
			}
		}
		limit := s.opts.MaxBatch
		var first *op
		if draining {
			// While the log drains, a batch carries at most a chunk's worth
			// of writes, so at saturation each turn moves at least what it
			// adds and the log cannot outgrow the writer; with nothing
			// queued, the next chunk follows at once.
			limit = min(limit, logChunk)
			select {
			case first = <-s.writes:
			case <-s.stop:
				s.stopWriter(batch)
				return
			default:
				continue
			}
		} else {
			idle.Reset(s.opts.idleAfter)
			select {
			case first = <-s.writes:
			case <-idle.C:
				draining, busy = s.logDue(true), false
				continue
			case <-s.stop:
				s.stopWriter(batch)
				return
			}
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < limit && first.exclusive == nil {
			select {
			case o := <-s.writes:
				if o.exclusive != nil {
					// It runs alone, after the writes queued before it.
					s.commit(batch)
					batch = append(batch[:0], o)
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		s.run(batch)
	}
}

// stopWriter finishes the writer: Close holds closeMu, so nothing new
// arrives; it runs what is queued, then moves the log, so a clean stop
// leaves it empty.
func (s *Store) stopWriter(batch []*op) {
	for {
		select {
		case o := <-s.writes:
			s.run(append(batch[:0], o))
		default:
			for s.logDue(true) {
				if s.compactLog() != nil {
					return // logged; the next Open reads the log
				}
			}
			return
		}
	}
}

// run commits a batch, or runs its one exclusive op.
func (s *Store) run(batch []*op) {
	if len(batch) == 1 && batch[0].exclusive != nil {
		batch[0].done <- batch[0].exclusive()
		return
	}
	s.commit(batch)
}

// opFailed carries the index of the op whose fn failed, so the batch can be
// retried without it.
type opFailed struct {
	i   int
	err error
}

func (e *opFailed) Error() string { return e.err.Error() }

func (s *Store) commit(batch []*op) {
	for len(batch) > 0 {
		start := time.Now()
		s.batch = &batchState{convs: map[string]*store.Conversation{}, dirty: map[string]bool{}, deleted: map[string]bool{}, logDropped: map[string]bool{}}
		s.dbMu.RLock()
		err := s.db.Update(func(tx *bolt.Tx) error {
			for i, o := range batch {
				if err := o.fn(tx); err != nil {
					return &opFailed{i: i, err: err}
				}
			}
			return s.flushConvs(tx)
		})
		s.dbMu.RUnlock()
		events := 0
		if err == nil {
			s.promote()
			events = s.batch.events
		}
		s.batch = nil
		if s.opts.OnCommit != nil {
			s.opts.OnCommit(len(batch), time.Since(start), err)
		}
		var of *opFailed
		if errors.As(err, &of) {
			// One write was refused (its own validation); the rest are fine.
			// Answer it, and commit the others again without it.
			batch[of.i].done <- of.err
			batch = append(batch[:of.i], batch[of.i+1:]...)
			continue
		}
		if err != nil {
			s.health.failed.Store(true) // not ready until a probe commits
			s.opts.Logger.Error("store: commit failed", "writes", len(batch), "err", err)
			err = fmt.Errorf("store: commit: %w", err)
		}
		for _, o := range batch {
			if err == nil && o.after != nil {
				o.after()
			}
			o.done <- err
		}
		if events > 0 && s.opts.OnEvents != nil {
			s.opts.OnEvents()
		}
		return
	}
}

// IOStats are bbolt's counters since Open: page writes (one pwrite each)
// and pages allocated, the cost a commit pays per message.
type IOStats struct {
	Writes    int64
	PageAlloc int64
}

// IOStats reads the database's write counters.
func (s *Store) IOStats() IOStats {
	s.dbMu.RLock()
	st := s.db.Stats()
	s.dbMu.RUnlock()
	return IOStats{Writes: st.TxStats.GetWrite(), PageAlloc: st.TxStats.GetPageAlloc()}
}
