package boltdb

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
)

// What a check can and cannot see: bbolt keeps a checksum of its two meta
// pages only, not of data pages. A check reads every page of every bucket
// (bbolt's own consistency check: reachable, freed, ordered), decodes
// every record, and follows the links between records (a visitor's
// conversation, a conversation's messages and their contiguous seqs, a
// username's account). Damage that leaves a record well-formed and
// consistent with the others — a letter changed inside a message's text —
// is invisible to it; that is the file system's job (checksumming file
// systems) and the backups'.

// fixKind says how a repair mends a problem.
type fixKind int

const (
	fixNone       fixKind = iota // structure or unreadable: only a rebuilt file helps
	fixQuarantine                // move the record to the quarantine bucket
	fixLastSeq                   // raise a conversation's last seq to its newest message
	fixGap                       // note a lost message seq in the quarantine
	fixConv                      // rebuild a missing conversation from its visitor and messages
	fixVisitor                   // rebuild a missing visitor from its conversation
	fixConvOwner                 // point a conversation back at the visitor that claims it
	fixOrphans                   // quarantine the messages of a conversation nobody has
	fixUsername                  // rebuild a missing username index entry
)

// finding is a problem with what a repair needs to mend it.
type finding struct {
	store.Problem
	area string
	key  []byte
	fix  fixKind
	conv string // fixLastSeq, fixGap, fixConv, fixVisitor, fixConvOwner, fixOrphans
	id   string // the visitor (fixConv, fixVisitor, fixConvOwner) or account (fixUsername)
	seq  uint64 // fixLastSeq, fixGap
}

// checker reads one database and collects what is wrong with it.
type checker struct {
	ctx       context.Context
	rep       store.CheckReport
	findings  []finding
	quar      map[string]map[string]bool // area → key → set aside earlier
	visitors  map[string]string          // visitor id → conversation id
	convs     map[string]convFacts
	msgs      map[string]*msgFacts
	tokens    []ref             // token hash → visitor id
	accounts  map[string]string // account id → username as indexed
	usernames map[string]string // indexed username → account id
	hints     map[string][][]byte
	faulted   bool
	// abort, set by a record function, stops the walk (a repair that
	// cannot write its copy).
	abort error
	// The messages bucket, read in key order: the conversation being read,
	// the client ids of its messages, and the seq expected next.
	curConv   string
	curIDs    map[string]uint64
	curBad    map[uint64]bool
	expectSeq uint64
}

func newChecker(ctx context.Context) *checker {
	return &checker{
		ctx:       ctx,
		rep:       store.CheckReport{Records: map[string]int{}, Problems: []store.Problem{}},
		quar:      map[string]map[string]bool{},
		visitors:  map[string]string{},
		convs:     map[string]convFacts{},
		msgs:      map[string]*msgFacts{},
		accounts:  map[string]string{},
		usernames: map[string]string{},
		hints:     map[string][][]byte{},
	}
}

func (c *checker) add(f finding) {
	if f.Area == "" {
		f.Area = f.area
	}
	if f.Key == "" && f.key != nil {
		f.Key = printKey(f.area, f.key)
	}
	c.findings = append(c.findings, f)
	c.rep.Problems = append(c.rep.Problems, f.Problem)
}

func (c *checker) bad(area string, k []byte, format string, args ...any) {
	c.add(finding{area: area, key: append([]byte(nil), k...), fix: fixQuarantine, Problem: store.Problem{Err: fmt.Sprintf(format, args...)}})
}

// run checks everything tx sees; structure says whether to run bbolt's
// own page check as well (only safe once every page was read under guard).
func (c *checker) run(tx *bolt.Tx) error {
	c.readQuarantine(tx)
	known := map[string]bool{string(bucketQuarantine): true}
	for _, sp := range specs() {
		known[string(sp.name)] = true
		if err := c.walk(tx, sp); err != nil {
			return err
		}
	}
	err := guard("file", func() error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if !known[string(name)] {
				c.rep.Notes = append(c.rep.Notes, fmt.Sprintf("bucket %q is not known to this version of kefu; not checked", name))
			}
			return nil
		})
	})
	if errors.Is(err, store.ErrCorrupt) {
		c.faulted = true
		c.add(finding{area: "file", Problem: store.Problem{Err: "the list of buckets is unreadable: " + err.Error()}})
	} else if err != nil {
		return err
	}
	c.cross()
	if !c.faulted {
		// bbolt's check runs on a goroutine of its own; it recovers its
		// panics but not memory faults, so it runs only when every page
		// was already read here without one.
		for err := range tx.Check() {
			c.add(finding{area: "file", Problem: store.Problem{Err: err.Error()}})
		}
	}
	return nil
}

// walk reads the bucket's records in key order. A damaged page stops the
// cursor; reading resumes at the next hint key after the damage.
func (c *checker) walk(tx *bolt.Tx, sp recordSpec) error {
	area := string(sp.name)
	c.rep.Records[area] += 0 // listed even when empty
	var b *bolt.Bucket
	if err := guard(area, func() error { b = tx.Bucket(sp.name); return nil }); err != nil {
		c.faulted = true
		c.add(finding{area: area, Problem: store.Problem{Err: "unreadable (the page naming the bucket is damaged): " + err.Error()}})
		return nil
	}
	if b == nil {
		c.add(finding{area: area, Problem: store.Problem{Err: "bucket missing"}})
		return nil
	}
	hints := c.hints[area]
	sort.Slice(hints, func(i, j int) bool { return bytes.Compare(hints[i], hints[j]) < 0 })
	var pos []byte // the last key reached, or sought
	var seek []byte
	for {
		sought := seek != nil
		inRecord := false
		done := false
		err := guard(area, func() error {
			cur := b.Cursor()
			var k, v []byte
			if seek == nil {
				k, v = cur.First()
			} else {
				k, v = cur.Seek(seek)
			}
			for n := 0; k != nil; k, v = cur.Next() {
				if n++; n%4096 == 0 && c.ctx.Err() != nil {
					return c.ctx.Err()
				}
				pos = append(pos[:0], k...)
				inRecord = true
				c.rep.Records[area]++
				if v == nil {
					c.bad(area, k, "a nested bucket where a record belongs")
				} else {
					sp.record(c, k, v)
				}
				inRecord = false
				if c.abort != nil {
					return c.abort
				}
			}
			done = true
			return nil
		})
		if done {
			return nil
		}
		if !errors.Is(err, store.ErrCorrupt) {
			return err
		}
		c.faulted = true
		if inRecord {
			c.rep.Records[area]--
			c.add(finding{area: area, key: append([]byte(nil), pos...), Problem: store.Problem{Err: "unreadable: " + err.Error()}})
		} else {
			where := "from the start"
			switch {
			case sought && bytes.Equal(pos, seek):
				where = "where key " + printKey(area, pos) + " would be"
			case pos != nil:
				where = "after key " + printKey(area, pos)
			}
			c.add(finding{area: area, Problem: store.Problem{Err: "damaged page " + where + ": " + err.Error()}})
		}
		seek = nil
		for _, h := range hints {
			if bytes.Compare(h, pos) > 0 {
				seek = h
				break
			}
		}
		if seek == nil {
			return nil
		}
		pos = append(pos[:0], seek...)
	}
}

// decode reads a JSON record strictly enough to notice damage: valid
// UTF-8 (a flipped high bit is not), valid JSON, one value.
func decode(v []byte, into any) error {
	if !utf8.Valid(v) {
		return errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("does not decode: %w", err)
	}
	if dec.More() {
		return errors.New("does not decode: data after the record")
	}
	return nil
}

func (c *checker) readQuarantine(tx *bolt.Tx) {
	q := tx.Bucket(bucketQuarantine)
	if q == nil {
		return
	}
	n := 0
	_ = guard("quarantine", func() error {
		return q.ForEachBucket(func(area []byte) error {
			keys := map[string]bool{}
			err := q.Bucket(area).ForEach(func(k, _ []byte) error {
				keys[string(k)] = true
				n++
				return nil
			})
			c.quar[string(area)] = keys
			return err
		})
	})
	if n > 0 {
		c.rep.Notes = append(c.rep.Notes, fmt.Sprintf("%d records set aside by an earlier repair are kept in the quarantine bucket", n))
	}
}

// printKey shows a key as an operator can read it.
func printKey(area string, k []byte) string {
	if area == "messages" && len(k) > store.IDLen && printable(k[:store.IDLen]) {
		conv := string(k[:store.IDLen])
		if k[store.IDLen] == clientIDMarker {
			return conv + "/client:" + printKeyBytes(k[store.IDLen+1:])
		}
		if len(k) == store.IDLen+8 {
			return conv + "/" + strconv.FormatUint(binary.BigEndian.Uint64(k[store.IDLen:]), 10)
		}
	}
	if area == "log" && len(k) == 8 {
		return "position " + strconv.FormatUint(binary.BigEndian.Uint64(k), 10)
	}
	return printKeyBytes(k)
}

func printKeyBytes(k []byte) string {
	if printable(k) {
		return string(k)
	}
	return "0x" + hex.EncodeToString(k)
}

func printable(k []byte) bool {
	for _, b := range k {
		if b < 0x21 || b > 0x7e {
			return false
		}
	}
	return len(k) > 0
}

// Verify checks the open database: every page and every record (see the
// comment at the top of this file). It holds bbolt's write lock, which
// bbolt's page check needs next to a live writer, so writes wait until it
// is done: it is for tests and quiet stores, kefu check works on files.
func (s *Store) Verify(ctx context.Context) (store.CheckReport, error) {
	c := newChecker(ctx)
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := c.run(tx); err != nil {
			return err
		}
		return errReadOnly
	})
	if err != nil && !errors.Is(err, errReadOnly) {
		return c.rep, fmt.Errorf("store: check: %w", err)
	}
	return c.rep, nil
}

// errReadOnly rolls back a write transaction used only to read.
var errReadOnly = errors.New("read only")

// Check verifies the database and returns an error naming the problems
// found, if any (for tests: a Verify in one call).
func (s *Store) Check() error {
	rep, err := s.Verify(context.Background())
	if err != nil {
		return err
	}
	return rep.Err()
}

// CheckFile checks the database file at path without changing it; it
// waits up to lockTimeout for a relay holding the file (ErrLocked). A file
// cut short is checked as far as it goes.
func CheckFile(ctx context.Context, path string, lockTimeout time.Duration) (store.CheckReport, error) {
	var c *checker
	err := withReadOnly(path, lockTimeout, func(tx *bolt.Tx, cut error) error {
		c = newChecker(ctx)
		c.cut(cut)
		return c.run(tx)
	})
	if c == nil {
		return store.CheckReport{}, err
	}
	return c.rep, err
}

// cut records that the file is shorter than its header says: pages past
// its end fault when read (guard reports them), and bbolt's own page check,
// which would fault on a goroutine of its own, is skipped.
func (c *checker) cut(err error) {
	if err != nil {
		c.faulted = true
		c.add(finding{area: "file", Problem: store.Problem{Err: strings.TrimPrefix(err.Error(), "store: ")}})
	}
}

// withReadOnly opens the file at path read-only, after looking at its
// header, and runs fn in a read transaction, every step under guard: a
// file with damaged pages gives an error, never a crash. cut is non-nil
// when the file is shorter than its header says.
func withReadOnly(path string, lockTimeout time.Duration, fn func(tx *bolt.Tx, cut error) error) error {
	if lockTimeout <= 0 {
		lockTimeout = time.Second // 0 would make bbolt wait for ever
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if fi.Size() == 0 {
		return fmt.Errorf("store: %s: %w: the file is empty", path, store.ErrCorrupt)
	}
	cut, err := inspect(path, lockTimeout)
	if err != nil {
		return err
	}
	var db *bolt.DB
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	err = guard("store: "+path, func() error {
		var err error
		// The free list is loaded here, under guard, rather than later by
		// bbolt's page check on a goroutine of its own; a file cut short
		// may have lost it, and its check is skipped.
		db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout, PreLoadFreelist: cut == nil})
		if err != nil {
			return openError(path, err)
		}
		return db.View(func(tx *bolt.Tx) error {
			err := guard("store: "+path, func() error { return schemaCheck(tx) })
			if cut != nil && errors.Is(err, store.ErrCorrupt) {
				// The root of every bucket was in the part cut off.
				return fmt.Errorf("%w; nothing can be read from it (its root page is gone): restore a backup", cut)
			}
			if err != nil {
				return err
			}
			return fn(tx, cut)
		})
	})
	if err != nil && cut != nil && errors.Is(err, store.ErrCorrupt) {
		// A page past the end (the root's, the meta bucket's) faulted
		// before the check could say why: the cut is the reason.
		return fmt.Errorf("%w; %v", err, cut)
	}
	return err
}

// schemaCheck refuses files of another schema: the check knows this one.
func schemaCheck(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return fmt.Errorf("store: %w: no meta bucket (not a kefu database?)", store.ErrCorrupt)
	}
	have := uint64(0)
	if v := meta.Get(keySchema); len(v) == 8 {
		have = binary.BigEndian.Uint64(v)
	}
	switch want := SchemaVersion(); {
	case have > want:
		return fmt.Errorf("store: %w: schema %d, this binary knows up to %d", ErrNewerSchema, have, want)
	case have < want:
		return fmt.Errorf("store: schema %d is older than this binary's %d: start the relay on it once to upgrade, then check", have, want)
	}
	return nil
}
