package boltdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
	bolt "go.etcd.io/bbolt"
)

func (f *fixture) repair(t *testing.T) store.RepairReport {
	t.Helper()
	rep, err := Repair(context.Background(), f.dir, RepairOptions{})
	if err != nil {
		t.Fatalf("Repair: %v (report %+v)", err, rep)
	}
	t.Logf("quarantined %v; fixed %v; unreadable %v", rep.Quarantined, rep.Fixed, rep.Unreadable)
	return rep
}

// reopen opens the repaired database and checks it is sound.
func (f *fixture) reopen(t *testing.T) *Store {
	t.Helper()
	s, err := Open(f.dir, Options{})
	if err != nil {
		t.Fatalf("open after repair: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Check(); err != nil {
		t.Fatalf("after repair: %v", err)
	}
	return s
}

func quarantined(t *testing.T, s *Store, area string, key []byte) []byte {
	t.Helper()
	var out []byte
	s.db.View(func(tx *bolt.Tx) error {
		if q := tx.Bucket(bucketQuarantine); q != nil {
			if b := q.Bucket([]byte(area)); b != nil {
				out = bytes.Clone(b.Get(key))
			}
		}
		return nil
	})
	return out
}

func TestRepairLeavesSoundDatabaseAlone(t *testing.T) {
	f := newFixture(t)
	before, _ := os.ReadFile(f.path)
	rep := f.repair(t)
	after, _ := os.ReadFile(f.path)
	if rep.Changed() || !bytes.Equal(before, after) {
		t.Errorf("a sound database was changed: %+v", rep)
	}
	if _, err := os.Stat(f.path + ".repair"); err == nil {
		t.Error("the repair's scratch file was left behind")
	}
}

// A damaged message is set aside with its client id; the rest stays, the
// seq is never handed out again, and a resend of the id is stored anew.
func TestRepairQuarantinesDamagedMessage(t *testing.T) {
	f := newFixture(t)
	f.edit(t, `"text":"mark-1-3"`, func(d []byte, i int) { d[i] ^= 0x01 })
	rep := f.repair(t)
	if !rep.Changed() || len(rep.Quarantined) != 2 {
		t.Fatalf("report %+v, want the message and its client id quarantined", rep)
	}
	if _, err := os.Stat(rep.Kept); err != nil {
		t.Errorf("the damaged file was not kept: %v", err)
	}
	s := f.reopen(t)
	conv := f.visitors[1].ConversationID
	msgs, err := s.Messages(conv, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, m := range msgs {
		seqs = append(seqs, m.Seq)
	}
	if len(seqs) != 4 || seqs[2] != 4 {
		t.Errorf("seqs after repair %v, want 1 2 4 5", seqs)
	}
	if q := quarantined(t, s, "messages", messageKey(conv, 3)); !bytes.Contains(q, []byte("mark-1-3")) {
		t.Errorf("quarantine holds %q, want the damaged record", q)
	}
	a, err := s.Append(context.Background(), conv, store.NewMessage{ClientID: "c1-3", From: protocol.FromVisitor, Text: "resent"})
	if err != nil || a.Duplicate[0] || a.Messages[0].Seq != 6 {
		t.Errorf("resend after repair: %+v %v, want a new message with seq 6", a, err)
	}
}

// A conversation record that does not decode is rebuilt from its visitor
// and messages: the visitor resumes and carries on at the next seq.
func TestRepairRebuildsConversation(t *testing.T) {
	f := newFixture(t)
	conv := f.visitors[0].ConversationID
	f.edit(t, `{"id":"`+conv+`"`, func(d []byte, i int) { d[i] = '[' })
	f.repair(t)
	s := f.reopen(t)
	v, err := s.VisitorByToken(f.tokens[0])
	if err != nil || v.ConversationID != conv {
		t.Fatalf("visitor after repair: %+v %v", v, err)
	}
	c, err := s.Conversation(conv)
	if err != nil || c.LastSeq != 5 || c.Status != store.StatusClosed {
		t.Fatalf("conversation after repair: %+v %v, want closed with last seq 5", c, err)
	}
	a, err := s.Append(context.Background(), conv, store.NewMessage{From: protocol.FromVisitor, Text: "back"})
	if err != nil || a.Messages[0].Seq != 6 || !a.Reopened {
		t.Errorf("append after repair: %+v %v, want seq 6 reopening it", a, err)
	}
}

// A visitor record that does not decode is rebuilt from its conversation,
// so its token still resumes it.
func TestRepairRebuildsVisitor(t *testing.T) {
	f := newFixture(t)
	id := f.visitors[2].ID
	f.edit(t, `{"id":"`+id+`","conversation_id"`, func(d []byte, i int) { d[i+1] = 'x' })
	f.repair(t)
	s := f.reopen(t)
	v, err := s.VisitorByToken(f.tokens[2])
	if err != nil || v.ConversationID != f.visitors[2].ConversationID {
		t.Errorf("visitor after repair: %+v %v", v, err)
	}
}

// A damaged page loses what was on it; everything else is copied, and the
// lost seqs stay used.
func TestRepairSalvagesAroundDamagedPage(t *testing.T) {
	f := newFixture(t)
	f.edit(t, `mark-1-1`, func(d []byte, i int) { d[i/4096*4096+8] ^= 0xff })
	rep := f.repair(t)
	if len(rep.Unreadable) == 0 {
		t.Errorf("no unreadable part reported: %+v", rep)
	}
	s := f.reopen(t)
	for i, v := range f.visitors {
		if _, err := s.VisitorByToken(f.tokens[i]); err != nil {
			t.Errorf("visitor %d lost: %v", i, err)
		}
		a, err := s.Append(context.Background(), v.ConversationID, store.NewMessage{From: protocol.FromVisitor, Text: "after"})
		if err != nil || a.Messages[0].Seq != 6 {
			t.Errorf("append after repair: %+v %v, want seq 6 (lost seqs stay used)", a, err)
		}
	}
	if a, err := s.Account(f.account.ID); err != nil || a.Username != "Alice" {
		t.Errorf("account after repair: %+v %v", a, err)
	}
}

// A second repair of a repaired database finds nothing to do; the first
// repair's quarantine is kept.
func TestRepairIsIdempotent(t *testing.T) {
	f := newFixture(t)
	f.edit(t, `"text":"mark-0-5"`, func(d []byte, i int) { d[i] ^= 0x01 })
	f.repair(t)
	rep := f.repair(t)
	if rep.Changed() || !rep.Check.OK() || len(rep.Check.Notes) == 0 {
		t.Errorf("second repair: %+v, want no change and a note of the quarantine", rep)
	}
}

// The relay's own buckets are what repair copies; a bucket it does not
// know (a newer kefu's) is copied as it is.
func TestRepairCopiesUnknownBuckets(t *testing.T) {
	f := newFixture(t)
	db, err := bolt.Open(f.path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucket([]byte("future"))
		n, _ := b.CreateBucket([]byte("nested"))
		return n.Put([]byte("k"), []byte("v"))
	})
	db.Close()
	f.edit(t, `"text":"mark-0-1"`, func(d []byte, i int) { d[i] ^= 0x01 })
	f.repair(t)
	s := f.reopen(t)
	var got []byte
	s.db.View(func(tx *bolt.Tx) error {
		got = bytes.Clone(tx.Bucket([]byte("future")).Bucket([]byte("nested")).Get([]byte("k")))
		return nil
	})
	if string(got) != "v" {
		t.Errorf("unknown bucket after repair: %q", got)
	}
	if _, err := os.Stat(filepath.Join(f.dir, FileName)); err != nil {
		t.Fatal(err)
	}
}

// A file cut short (an interrupted copy) is salvaged as far as it goes;
// the relay then starts on it.
func TestRepairSalvagesFileCutShort(t *testing.T) {
	f := newFixture(t)
	var root, used int64
	// The cut must spare the root page (a file cut before its root is
	// TestRootCutOff's case). Where bbolt put the root depends on its free
	// list: when it is the last page, another write moves it.
	for try := 0; ; try++ {
		if err := withReadOnly(f.path, time.Second, func(tx *bolt.Tx, _ error) error {
			root, used = int64(tx.Cursor().Bucket().Root())*int64(tx.DB().Info().PageSize), tx.Size()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if root < used-4096 {
			break
		}
		if try == 20 {
			t.Fatalf("the root page stays the file's last (%d of %d)", root, used)
		}
		db, err := bolt.Open(f.path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put([]byte("padding"), []byte(fmt.Sprint(try))) })
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(f.path)
	if err := os.WriteFile(f.path, data[:used-4096], 0o600); err != nil {
		t.Fatal(err)
	}
	rep := f.repair(t)
	if !rep.Changed() {
		t.Fatalf("nothing repaired: %+v", rep)
	}
	f.reopen(t)
}

// A file cut before its root page has nothing left to read: check and
// repair say so and to restore a backup, and change nothing.
func TestRootCutOff(t *testing.T) {
	f := newFixture(t)
	var root, used int64
	withReadOnly(f.path, time.Second, func(tx *bolt.Tx, _ error) error {
		root, used = int64(tx.Cursor().Bucket().Root())*int64(tx.DB().Info().PageSize), tx.Size()
		return nil
	})
	if root < 2*4096 || root >= used {
		t.Fatalf("root page at byte %d of %d", root, used)
	}
	data, _ := os.ReadFile(f.path)
	os.WriteFile(f.path, data[:root], 0o600)
	_, err := CheckFile(context.Background(), f.path, time.Second)
	if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "restore a backup") {
		t.Errorf("check: %v", err)
	}
	if _, err := Repair(context.Background(), f.dir, RepairOptions{}); err == nil || !strings.Contains(err.Error(), "restore a backup") {
		t.Errorf("repair: %v", err)
	}
	if after, _ := os.ReadFile(f.path); len(after) != int(root) {
		t.Error("the file was changed")
	}
}
