package boltdb

import (
	"bytes"
	"context"
	"crypto/sha256"
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

// fixture is a closed database with known records: three visitors with
// five messages each (texts "mark-V-S"), an account and its session.
type fixture struct {
	dir      string
	path     string
	tokens   [][]byte
	visitors []store.Visitor
	account  store.Account
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{dir: t.TempDir()}
	f.path = filepath.Join(f.dir, FileName)
	s, err := Open(f.dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for v := range 3 {
		h := sha256.Sum256([]byte(fmt.Sprint("token", v)))
		vis, _, err := s.CreateVisitor(ctx, h[:], "")
		if err != nil {
			t.Fatal(err)
		}
		f.tokens = append(f.tokens, h[:])
		f.visitors = append(f.visitors, vis)
		for i := 1; i <= 5; i++ {
			if _, err := s.Append(ctx, vis.ConversationID, store.NewMessage{ClientID: fmt.Sprintf("c%d-%d", v, i), From: protocol.FromVisitor, Text: fmt.Sprintf("mark-%d-%d", v, i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.account = store.Account{ID: store.NewID(), Username: "Alice", Name: "Alice", Role: store.RoleAgent, PasswordHash: "$argon2id$fake", CreatedAt: time.Now()}
	if err := s.CreateAccount(ctx, f.account); err != nil {
		t.Fatal(err)
	}
	sh := sha256.Sum256([]byte("session"))
	if err := s.PutSession(ctx, sh[:], store.Session{AccountID: f.account.ID, CSRF: "x", CreatedAt: time.Now(), LastSeen: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return f
}

// edit changes every copy of old in the file (bbolt may keep stale copies
// in freed pages) with fn, which gets the offset of each copy.
func (f *fixture) edit(t *testing.T, old string, fn func(data []byte, at int)) {
	t.Helper()
	data, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for off := 0; ; {
		i := bytes.Index(data[off:], []byte(old))
		if i < 0 {
			break
		}
		fn(data, off+i)
		off += i + len(old)
		n++
	}
	if n == 0 {
		t.Fatalf("%q is not in the file", old)
	}
	if err := os.WriteFile(f.path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) check(t *testing.T) store.CheckReport {
	t.Helper()
	rep, err := CheckFile(context.Background(), f.path, time.Second)
	if err != nil {
		t.Fatalf("CheckFile: %v", err)
	}
	return rep
}

func TestCheckSoundDatabase(t *testing.T) {
	f := newFixture(t)
	rep := f.check(t)
	if !rep.OK() {
		t.Fatalf("problems in a sound database: %v", rep.Problems)
	}
	// 15 messages and their 15 client ids.
	if rep.Records["messages"] != 30 || rep.Records["visitors"] != 3 || rep.Records["accounts"] != 1 || rep.Records["sessions"] != 1 {
		t.Errorf("records read: %v", rep.Records)
	}
}

// Every bucket the relay creates is read by the check (and so copied by
// a repair): a new bucket needs a recordSpec.
func TestCheckKnowsEveryBucket(t *testing.T) {
	known := map[string]bool{}
	for _, sp := range specs() {
		known[string(sp.name)] = true
	}
	for _, b := range buckets() {
		if !known[string(b)] {
			t.Errorf("bucket %q has no recordSpec in check.go: say how its records are checked", b)
		}
	}
}

// A flipped byte in a record is found and named by bucket and key.
func TestCheckFindsFlippedByte(t *testing.T) {
	tests := []struct {
		name     string
		find     string
		at       int  // offset from the found string
		xor      byte // the flip
		wantArea string
		wantKey  string // substring of the reported key
		wantErr  string
	}{
		{name: "JSON structure in a message", find: `"text":"mark-1-3"`, at: 0, xor: 0x01, wantArea: "messages", wantKey: "/3", wantErr: "does not decode"},
		{name: "high bit in a message's text", find: `mark-2-4`, at: 2, xor: 0x80, wantArea: "messages", wantKey: "/4", wantErr: "UTF-8"},
		{name: "a message's seq", find: `"seq":2,"client_id":"c0-2"`, at: 6, xor: 0x01, wantArea: "messages", wantKey: "/2", wantErr: "not this key's message"},
		{name: "a visitor's conversation id", find: `"conversation_id":"`, at: 20, xor: 0x01, wantArea: "visitors", wantErr: ""},
		{name: "an account's username", find: `"username":"Alice"`, at: 13, xor: 0x01, wantArea: "usernames", wantKey: "alice", wantErr: "another username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.edit(t, tt.find, func(data []byte, i int) { data[i+tt.at] ^= tt.xor })
			rep := f.check(t)
			if rep.OK() {
				t.Fatal("check found nothing")
			}
			found := false
			for _, p := range rep.Problems {
				if (tt.wantArea == "" || p.Area == tt.wantArea) && strings.Contains(p.Key, tt.wantKey) && strings.Contains(p.Err, tt.wantErr) {
					found = true
				}
			}
			if !found {
				t.Errorf("problems %v, want one in %q with key ~%q and error ~%q", rep.Problems, tt.wantArea, tt.wantKey, tt.wantErr)
			}
		})
	}
}

// A flipped byte in a key: a message's seq far beyond the others is set
// aside, not taken as a gap of 2^56 lost messages.
func TestCheckFindsFlippedKey(t *testing.T) {
	f := newFixture(t)
	conv := f.visitors[2].ConversationID
	value := `{"conversation_id":"` + conv + `","seq":5,`
	f.edit(t, value, func(d []byte, i int) {
		if string(d[i-24:i-8]) == conv { // the key sits right before its value
			d[i-8] ^= 0x01
		}
	})
	rep := f.check(t)
	if len(rep.Problems) == 0 || !strings.Contains(rep.Problems[0].Err, "far beyond") || rep.Problems[0].Area != "messages" {
		t.Errorf("problems %v, want a message seq far beyond", rep.Problems)
	}
	if len(rep.Problems) > 3 {
		t.Errorf("%d problems for one flipped byte", len(rep.Problems))
	}
}

// A damaged page header (not a record) is found without crashing: bbolt
// panics or faults on it, the check reports it and reads on.
func TestCheckFindsDamagedPage(t *testing.T) {
	f := newFixture(t)
	const page = 4096
	f.edit(t, `mark-1-1`, func(data []byte, i int) { data[i/page*page+8] ^= 0xff }) // the page's type flags
	rep := f.check(t)
	var damaged, gaps int
	for _, p := range rep.Problems {
		if p.Area == "messages" && strings.Contains(p.Err, "damaged page") && strings.Contains(p.Err, "unexpected type") {
			damaged++
		}
		if p.Area == "messages" && strings.Contains(p.Err, "message missing") {
			gaps++
		}
	}
	// The fixture's messages fit on that one page: all 15 are lost, and
	// each conversation's seqs say so.
	if damaged == 0 || gaps != 15 {
		t.Errorf("%d damaged-page and %d missing-message problems, want some and 15: %v", damaged, gaps, rep.Problems)
	}
}

func TestCutShortOrGarbageFileGivesClearError(t *testing.T) {
	tests := []struct {
		name    string
		mangle  func(d []byte, used int64) []byte
		wantErr string
	}{
		{name: "cut in half", mangle: func(d []byte, used int64) []byte { return d[:used/2] }, wantErr: "cut short"},
		{name: "cut to one page", mangle: func(d []byte, _ int64) []byte { return d[:4096] }, wantErr: "cut short"},
		{name: "garbage", mangle: func(d []byte, _ int64) []byte {
			for i := range d {
				d[i] = byte(i*7 + 3)
			}
			return d
		}, wantErr: "not a kefu database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var used int64 // the length the file's header needs
			if err := withReadOnly(f.path, time.Second, func(tx *bolt.Tx, _ error) error { used = tx.Size(); return nil }); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(f.path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f.path, tt.mangle(data, used), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(f.dir, Options{})
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Open: %v, want ErrCorrupt saying %q", err, tt.wantErr)
			}
			// The check reads what it can of a file cut short, and says so.
			rep, err := CheckFile(context.Background(), f.path, time.Second)
			said := err != nil && errors.Is(err, store.ErrCorrupt) && strings.Contains(err.Error(), tt.wantErr)
			if err == nil && len(rep.Problems) > 0 {
				said = rep.Problems[0].Area == "file" && strings.Contains(rep.Problems[0].Err, tt.wantErr)
			}
			if !said {
				t.Errorf("CheckFile: %v %v, want ErrCorrupt or a file problem saying %q", err, rep.Problems, tt.wantErr)
			}
		})
	}
}
