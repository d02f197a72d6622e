package boltdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
)

// RepairOptions configure Repair. Zero values take the documented defaults.
type RepairOptions struct {
	// LockTimeout bounds the wait for a relay holding the file. Default 1s.
	LockTimeout time.Duration
	// Logger gets one line per record set aside or rebuilt. Default discards.
	Logger *slog.Logger
	// Now is the clock (the kept file's name). Default time.Now.
	Now func() time.Time
}

// Repair mends the database in dir so the relay can start on it, losing
// nothing that can still be read. It checks the file; when anything is
// wrong it copies every readable record into a new file, setting damaged
// records aside in the quarantine bucket, then rebuilds what the others
// imply (a conversation from its visitor and messages, a username index
// entry, a conversation's last seq) and notes lost message seqs, so seqs
// are never handed out twice. The damaged file is kept beside the new one
// as kefu.db.damaged-TIME. A sound database is left untouched.
func Repair(ctx context.Context, dir string, opts RepairOptions) (store.RepairReport, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	path := filepath.Join(dir, FileName)
	var rep store.RepairReport
	tmp := path + ".repair"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return rep, fmt.Errorf("store: repair: %w", err)
	}
	var out *bolt.DB
	defer func() {
		if out != nil {
			out.Close()
			os.Remove(tmp)
		}
	}()
	err := withReadOnly(path, opts.LockTimeout, func(tx *bolt.Tx, cut error) error {
		c := newChecker(ctx)
		c.cut(cut)
		if err := c.run(tx); err != nil {
			return err
		}
		rep.Check = c.rep
		if c.rep.OK() {
			return nil
		}
		var err error
		if out, err = bolt.Open(tmp, 0o600, &bolt.Options{Timeout: opts.LockTimeout, FreelistType: bolt.FreelistMapType}); err != nil {
			return fmt.Errorf("store: repair: create %s: %w", tmp, err)
		}
		return salvage(ctx, tx, cut, out, &rep)
	})
	if err != nil || rep.Check.OK() {
		return rep, err
	}
	for _, p := range rep.Unreadable {
		opts.Logger.Error("store: repair: unreadable", "area", p.Area, "problem", p.Err)
	}
	for _, p := range rep.Quarantined {
		opts.Logger.Warn("store: repair", "area", p.Area, "key", p.Key, "problem", p.Err, "action", fixNames[fixQuarantine])
	}
	// The copy is sound page by page; now mend what its records imply,
	// until a check finds nothing (each round can only remove problems).
	for round := 0; ; round++ {
		c := newChecker(ctx)
		var fixed []finding
		err := out.Update(func(tx *bolt.Tx) error {
			if err := c.run(tx); err != nil {
				return err
			}
			var err error
			fixed, err = mend(tx, c.findings, opts.Now())
			return err
		})
		if err != nil {
			return rep, fmt.Errorf("store: repair: %w", err)
		}
		for _, f := range fixed {
			switch f.fix {
			case fixQuarantine, fixOrphans:
				rep.Quarantined = append(rep.Quarantined, f.Problem)
			case fixGap:
				rep.Lost = append(rep.Lost, f.Problem)
			default:
				rep.Fixed = append(rep.Fixed, f.Problem)
			}
			opts.Logger.Warn("store: repair", "area", f.Area, "key", f.Key, "problem", f.Err, "action", fixNames[f.fix])
		}
		if len(c.findings) == 0 {
			break
		}
		if round == 3 || len(fixed) < len(c.findings) {
			return rep, fmt.Errorf("store: repair: %w: cannot mend %s", store.ErrCorrupt, c.rep.Err())
		}
	}
	if err := out.Close(); err != nil {
		return rep, fmt.Errorf("store: repair: close %s: %w", tmp, err)
	}
	out = nil
	rep.Kept = path + ".damaged-" + opts.Now().UTC().Format("20060102T150405Z")
	if err := os.Rename(path, rep.Kept); err != nil {
		return rep, fmt.Errorf("store: repair: keep the damaged file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return rep, fmt.Errorf("store: repair: put the repaired file in place (the damaged one is %s): %w", rep.Kept, err)
	}
	return rep, syncDir(dir)
}

var fixNames = map[fixKind]string{
	fixNone: "none", fixQuarantine: "quarantined", fixLastSeq: "last seq raised", fixGap: "noted as lost",
	fixConv: "conversation rebuilt", fixVisitor: "visitor rebuilt", fixConvOwner: "owner restored",
	fixOrphans: "quarantined", fixUsername: "username index rebuilt",
}

// salvage copies every record it can read from src into dst, bucket by
// bucket, in transactions of bounded size. Records that do not decode on
// their own go to the quarantine; unreadable stretches are reported.
func salvage(ctx context.Context, src *bolt.Tx, cut error, dst *bolt.DB, rep *store.RepairReport) error {
	w := &copier{db: dst}
	defer w.rollback()
	c := newChecker(ctx)
	c.cut(cut)
	if q := src.Bucket(bucketQuarantine); q != nil {
		if err := guard("quarantine", func() error { return w.copyBucket(nil, bucketQuarantine, q) }); err != nil {
			return err
		}
	}
	c.readQuarantine(src)
	known := map[string]bool{string(bucketQuarantine): true}
	for _, sp := range specs() {
		known[string(sp.name)] = true
		if err := w.begin(); err != nil {
			return err
		}
		if _, err := w.tx.CreateBucketIfNotExists(sp.name); err != nil {
			return err
		}
		name, inner := sp.name, sp.record
		sp.record = func(c *checker, k, v []byte) {
			n := len(c.findings)
			inner(c, k, v)
			if err := w.put(name, k, v, len(c.findings) > n); err != nil {
				c.abort = err
			}
		}
		if err := c.walk(src, sp); err != nil {
			return err
		}
	}
	// Buckets this version does not know are copied as they are.
	err := src.ForEach(func(name []byte, b *bolt.Bucket) error {
		if known[string(name)] {
			return nil
		}
		return guard(string(name), func() error { return w.copyBucket(nil, name, b) })
	})
	if err != nil {
		return err
	}
	for _, f := range c.findings {
		switch f.fix {
		case fixNone:
			rep.Unreadable = append(rep.Unreadable, f.Problem)
		case fixQuarantine:
			rep.Quarantined = append(rep.Quarantined, f.Problem)
		}
	}
	return w.commit()
}

// copier writes into the new file, committing every few megabytes.
type copier struct {
	db    *bolt.DB
	tx    *bolt.Tx
	bytes int
}

const copyTxBytes = 16 << 20

func (w *copier) begin() error {
	if w.tx != nil {
		return nil
	}
	tx, err := w.db.Begin(true)
	w.tx = tx
	return err
}

// put stores a record in its bucket, or in the quarantine when bad. The
// bytes are copied: the source is a map of a damaged file that the commit
// must not read from outside guard.
func (w *copier) put(bucket, k, v []byte, bad bool) error {
	if err := w.begin(); err != nil {
		return fmt.Errorf("write the repaired file: %w", err)
	}
	b, err := w.tx.CreateBucketIfNotExists(bucket)
	if bad {
		var q *bolt.Bucket
		if q, err = w.tx.CreateBucketIfNotExists(bucketQuarantine); err == nil {
			b, err = q.CreateBucketIfNotExists(bucket)
		}
	}
	if err == nil {
		err = b.Put(bytes.Clone(k), bytes.Clone(v))
	}
	if err != nil {
		return fmt.Errorf("write the repaired file: %w", err)
	}
	if w.bytes += len(k) + len(v); w.bytes > copyTxBytes {
		return w.commit()
	}
	return nil
}

// copyBucket copies a bucket this version does not know, nested buckets
// included.
func (w *copier) copyBucket(parent [][]byte, name []byte, b *bolt.Bucket) error {
	path := append(append([][]byte(nil), parent...), bytes.Clone(name))
	dst := func() (*bolt.Bucket, error) {
		if err := w.begin(); err != nil {
			return nil, err
		}
		d, err := w.tx.CreateBucketIfNotExists(path[0])
		for _, p := range path[1:] {
			if err == nil {
				d, err = d.CreateBucketIfNotExists(p)
			}
		}
		return d, err
	}
	if _, err := dst(); err != nil { // empty buckets too
		return err
	}
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			return w.copyBucket(path, k, b.Bucket(k))
		}
		d, err := dst()
		if err == nil {
			err = d.Put(bytes.Clone(k), bytes.Clone(v))
		}
		if w.bytes += len(k) + len(v); err == nil && w.bytes > copyTxBytes {
			err = w.commit()
		}
		return err
	})
}

func (w *copier) commit() error {
	if w.tx == nil {
		return nil
	}
	tx := w.tx
	w.tx, w.bytes = nil, 0
	return tx.Commit()
}

func (w *copier) rollback() {
	if w.tx != nil {
		w.tx.Rollback()
		w.tx = nil
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: repair: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("store: repair: sync %s: %w", dir, err)
	}
	return nil
}
