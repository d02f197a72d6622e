package boltdb

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
)

// moveLog runs one compaction step of the message log on the writer.
func moveLog(t *testing.T, s *Store) {
	t.Helper()
	if err := s.submit(context.Background(), &op{exclusive: s.compactLog, done: make(chan error, 1)}); err != nil {
		t.Fatal(err)
	}
}

// logLen counts the entries in the log bucket.
func logLen(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	if err := s.view(func(tx *bolt.Tx) error { n = tx.Bucket(bucketLog).Stats().KeyN; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// wantMessages checks every read of a conversation against what was
// appended: all, after each seq, and limited.
func wantMessages(t *testing.T, s *Store, conv string, texts []string) {
	t.Helper()
	for after := range len(texts) + 1 {
		for _, limit := range []int{0, 1, 3} {
			ms, err := s.Messages(conv, uint64(after), limit)
			if err != nil {
				t.Fatal(err)
			}
			want := texts[after:]
			if limit > 0 && len(want) > limit {
				want = want[:limit]
			}
			if len(ms) != len(want) {
				t.Fatalf("Messages(%s, after %d, limit %d): %d messages, want %d", conv, after, limit, len(ms), len(want))
			}
			for i, m := range ms {
				if m.Seq != uint64(after+i+1) || m.Text != want[i] {
					t.Fatalf("Messages(%s, after %d, limit %d)[%d] = seq %d %q, want seq %d %q", conv, after, limit, i, m.Seq, m.Text, after+i+1, want[i])
				}
			}
		}
	}
}

// Messages appended before and after a move read the same, in one seq
// order, whether they are in the messages tree or still in the log; a
// client id resent finds its message in either; reopening rebuilds the
// index from the log.
func TestLogMovesBehindOneReadPath(t *testing.T) {
	s, dir := openTest(t, Options{})
	convs := make([]string, 5)
	texts := make([][]string, len(convs))
	for i := range convs {
		_, c := newVisitor(t, s)
		convs[i] = c.ID
	}
	appendRound := func(round int) {
		for i, conv := range convs {
			text := fmt.Sprintf("round %d conv %d", round, i)
			a, err := s.Append(context.Background(), conv, store.NewMessage{ClientID: fmt.Sprintf("r%d", round), From: "visitor", Text: text})
			if err != nil || a.Duplicate[0] {
				t.Fatalf("append: %+v, %v", a, err)
			}
			texts[i] = append(texts[i], text)
		}
	}
	resend := func(round int) {
		for i, conv := range convs {
			a, err := s.Append(context.Background(), conv, store.NewMessage{ClientID: fmt.Sprintf("r%d", round), From: "visitor", Text: "again"})
			if err != nil || !a.Duplicate[0] || a.Messages[0].Text != texts[i][round] {
				t.Fatalf("resend of round %d to conv %d: %+v, %v", round, i, a, err)
			}
		}
	}
	appendRound(0)
	appendRound(1)
	moveLog(t, s)
	if n := logLen(t, s); n != 0 {
		t.Fatalf("after a move the log holds %d entries", n)
	}
	appendRound(2)
	appendRound(3)
	if n := logLen(t, s); n != 2*len(convs) {
		t.Fatalf("the log holds %d entries, want %d", n, 2*len(convs))
	}
	for i, conv := range convs {
		wantMessages(t, s, conv, texts[i])
	}
	resend(0) // in the messages tree
	resend(3) // in the log
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}

	// A copy of the file with entries in the log (as a kill leaves it)
	// opens with the same messages.
	copyDir := t.TempDir()
	f, err := os.Create(filepath.Join(copyDir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c, err := Open(copyDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.log.len() != 2*len(convs) {
		t.Errorf("reopened index holds %d entries, want %d", c.log.len(), 2*len(convs))
	}
	for i, conv := range convs {
		wantMessages(t, c, conv, texts[i])
	}
	a, err := c.Append(context.Background(), convs[0], store.NewMessage{ClientID: "r3", From: "visitor", Text: "again"})
	if err != nil || !a.Duplicate[0] {
		t.Fatalf("resend after reopening: %+v, %v", a, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_ = dir
}

// A reader whose snapshot predates a move, and which reads the index only
// after the move dropped its entries, finds every message: it reads the
// log of its own snapshot. (The move is played on the index alone: a real
// one may need to grow the file, which bbolt does only with no reader
// open.)
func TestLogReadOlderThanMove(t *testing.T) {
	s, _ := openTest(t, Options{})
	_, c := newVisitor(t, s)
	var texts []string
	for i := range 4 {
		text := fmt.Sprintf("message %d", i)
		if _, err := s.Append(context.Background(), c.ID, store.NewMessage{From: "visitor", Text: text}); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, text)
	}
	var ms []store.Message
	err := s.view(func(tx *bolt.Tx) error {
		p := s.log.pick(logChunk)
		s.log.drop(p, logMoved(tx)+1, s.log.low(p, tx.Bucket(bucketLog).Sequence()+1)) // as the writer does after a move's commit
		var err error
		ms, err = s.readMessages(tx, c.ID, 0, 0)
		return err
	})
	if err != nil || len(ms) != len(texts) {
		t.Fatalf("old snapshot read %d messages (%v), want %d", len(ms), err, len(texts))
	}
	for i, m := range ms {
		if m.Text != texts[i] {
			t.Fatalf("old snapshot: message %d is %q, want %q", i, m.Text, texts[i])
		}
	}
	if s.log.len() != 0 {
		t.Fatalf("index holds %d entries", s.log.len())
	}
}

// Erasing a conversation removes its messages from the log and the tree,
// and its entries do not come back with a move or a reopen.
func TestLogEraseRemovesEntries(t *testing.T) {
	s, dir := openTest(t, Options{})
	v, gone := newVisitor(t, s)
	_, stay := newVisitor(t, s)
	for i := range 3 {
		for _, conv := range []string{gone.ID, stay.ID} {
			if _, err := s.Append(context.Background(), conv, store.NewMessage{ClientID: fmt.Sprint(i), From: "visitor", Text: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		if i == 0 {
			moveLog(t, s)
		}
	}
	if n, err := s.DeleteConversations(context.Background(), []string{gone.ID}); err != nil || n != 1 {
		t.Fatalf("delete: %d, %v", n, err)
	}
	if _, err := s.DeleteVisitors(context.Background(), []string{v.ID}); err != nil {
		t.Fatal(err)
	}
	if n := logLen(t, s); n != 2 {
		t.Fatalf("log holds %d entries after the erasure, want stay's 2", n)
	}
	if ms, err := s.Messages(gone.ID, 0, 0); err != nil || len(ms) != 0 {
		t.Fatalf("erased conversation still reads %d messages (%v)", len(ms), err)
	}
	moveLog(t, s)
	wantMessages(t, s, stay.ID, []string{"0", "1", "2"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if ms, _ := s2.Messages(gone.ID, 0, 0); len(ms) != 0 {
		t.Fatalf("erased messages back after reopening: %d", len(ms))
	}
	wantMessages(t, s2, stay.ID, []string{"0", "1", "2"})
}

// A data directory written by the release before the log (schema 2: the
// file in testdata was made by kefu 5c4c027's boltdb package) opens in
// place: its messages read as before, an old client id resent stores
// nothing, new messages go on from the last seq, and an older kefu would
// now refuse the file.
func TestOpenUpgradesSchema2(t *testing.T) {
	gz, err := os.Open("testdata/schema2-kefu.db.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	convs, err := s.Conversations(nil)
	if err != nil || len(convs) != 3 {
		t.Fatalf("conversations after the upgrade: %d, %v", len(convs), err)
	}
	for _, c := range convs {
		ms, err := s.Messages(c.ID, 0, 0)
		if err != nil || len(ms) != 8 || c.LastSeq != 8 {
			t.Fatalf("conversation %s after the upgrade: %d messages, last seq %d, %v", c.ID, len(ms), c.LastSeq, err)
		}
		i := bytes.IndexByte([]byte(ms[0].ClientID), '-')
		if i < 0 {
			t.Fatalf("first message has client id %q", ms[0].ClientID)
		}
		old := ms[0].ClientID[:i] + "-3" // the last one the old release stored
		a, err := s.Append(context.Background(), c.ID, store.NewMessage{ClientID: old, From: "visitor", Text: "resent"})
		if err != nil || !a.Duplicate[0] || a.Messages[0].Seq != 7 {
			t.Fatalf("resend of %s after the upgrade: %+v, %v", old, a, err)
		}
		a, err = s.Append(context.Background(), c.ID, store.NewMessage{ClientID: "new", From: "visitor", Text: "after the upgrade"})
		if err != nil || a.Duplicate[0] || a.Messages[0].Seq != 9 {
			t.Fatalf("new message after the upgrade: %+v, %v", a, err)
		}
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	var schema uint64
	s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keySchema); len(v) == 8 {
			schema = uint64(v[7])
		}
		return nil
	})
	if schema != SchemaVersion() || schema != 5 {
		t.Errorf("schema after the upgrade is %d, want 5", schema)
	}
}
