package boltdb

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
)

// fill makes a visitor with traits and texts (each answered by the bot).
func fill(t *testing.T, s *Store, traits map[string]string, texts ...string) store.Visitor {
	t.Helper()
	v, c, err := s.CreateVisitor(context.Background(), storetest.TokenHash(store.NewID()), "")
	if err != nil {
		t.Fatal(err)
	}
	// identify arrives on every reconnect: several versions of the record.
	for range 3 {
		if v, err = s.UpdateVisitor(context.Background(), v.ID, func(v *store.Visitor) error { v.Traits = traits; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	for _, text := range texts {
		if _, err := s.Append(context.Background(), c.ID,
			store.NewMessage{From: "visitor", Text: text}, store.NewMessage{From: "bot", Text: "noted: " + text}); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// TestEraseLeavesNoBytes erases a visitor with several conversations and
// messages among others, then searches the raw database file for their
// email and a phrase they wrote: deleting alone leaves them in freed
// pages; Erase (delete, then compact) takes them out of the file.
func TestEraseLeavesNoBytes(t *testing.T) {
	s, dir := openTest(t, Options{})
	const email, phrase = "ann.erasure@example.com", "parcel-zebra-4471-late"
	var ann []string
	for i := range 40 {
		fill(t, s, map[string]string{"email": fmt.Sprintf("other%d@example.com", i)}, "an ordinary question", "another one")
		if i%10 == 0 {
			v := fill(t, s, map[string]string{"email": email, "name": "Ann"},
				"hello, my "+phrase+" order", fmt.Sprintf("still waiting for %s (%d)", phrase, i), "thanks")
			ann = append(ann, v.ID)
		}
	}
	bob := fill(t, s, map[string]string{"email": "bob@example.com"}, "bob stays")
	path := s.Path()
	if got := storetest.FilesHolding(t, path, email, phrase); len(got) != 2 {
		t.Fatalf("before erasure the file holds %v; the scan cannot see stored data", got)
	}

	svc := privacy.New(s, privacy.Options{})
	exp, err := svc.Export(ann)
	if err != nil || len(exp.Visitors) != 4 || len(exp.Visitors[0].Conversations[0].Messages) != 6 {
		t.Fatalf("export before erasure = %+v, %v", exp, err)
	}

	r, err := svc.Erase(context.Background(), ann, "admin")
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if r.Compacted == nil || r.Compacted.BytesAfter == 0 {
		t.Errorf("receipt %+v: the file was not compacted", r)
	}
	if got := storetest.FilesHolding(t, dir, email, phrase, "Ann"); len(got) != 0 {
		t.Fatalf("after erasure the data directory still holds %v", got)
	}
	if _, err := os.Stat(path + compactSuffix); !os.IsNotExist(err) {
		t.Errorf("compaction left its copy behind: %v", err)
	}
	// The store goes on, on the new file, with everyone else's data.
	if msgs, err := s.Messages(bob.ConversationID, 0, 0); err != nil || len(msgs) != 2 || msgs[0].Text != "bob stays" {
		t.Fatalf("bob after the erasure: %+v, %v", msgs, err)
	}
	if _, err := s.Append(context.Background(), bob.ConversationID, store.NewMessage{From: "visitor", Text: "after"}); err != nil {
		t.Fatalf("append after compaction: %v", err)
	}
	if vs, err := s.Visitors(nil); err != nil || len(vs) != 41 {
		t.Errorf("visitors after erasure = %d, %v; want 41", len(vs), err)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestDeleteAloneLeavesBytes shows why erasure compacts: after bbolt
// deletes every record holding a phrase, its freed pages still do.
func TestDeleteAloneLeavesBytes(t *testing.T) {
	// Messages written straight into the messages tree, where they end
	// up: the log's pages are rewritten so often that a freed one is
	// soon reused, which would hide the point.
	s, _ := openTest(t, Options{NoLog: true})
	const phrase = "only-in-deleted-records-9912"
	v := fill(t, s, map[string]string{"email": "x@example.com"}, phrase, phrase+" again")
	fill(t, s, nil, "someone else")
	if _, err := s.DeleteConversations(context.Background(), []string{v.ConversationID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteVisitors(context.Background(), []string{v.ID}); err != nil {
		t.Fatal(err)
	}
	if got := storetest.FilesHolding(t, s.Path(), phrase); len(got) == 0 {
		t.Fatal("the deleted phrase left the file without compaction; this test no longer shows why Compact runs")
	}
	st, err := s.Compact(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := storetest.FilesHolding(t, s.Path(), phrase); len(got) != 0 {
		t.Fatalf("after Compact the file still holds the phrase (%+v)", st)
	}
}

// TestOpenRemovesUnfinishedCompaction: a compaction killed before its
// rename leaves a partial copy, which the next Open removes.
func TestOpenRemovesUnfinishedCompaction(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/"+FileName+compactSuffix, []byte("half a copy with ann@example.com"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(dir + "/" + FileName + compactSuffix); !os.IsNotExist(err) {
		t.Errorf("the unfinished copy is still there: %v", err)
	}
}

// TestCompactLetsWritesThrough: the wipe after an erasure goes in steps,
// and a chat write submitted between two steps is committed and answered
// before the wipe finishes (it used to wait for a copy of the whole file).
func TestCompactLetsWritesThrough(t *testing.T) {
	s, _ := openTest(t, Options{})
	const phrase = "wiped-while-chatting-5521"
	var gone []string
	for i := range 30 {
		fill(t, s, nil, "an ordinary question")
		v := fill(t, s, nil, fmt.Sprintf("%s %d %s", phrase, i, strings.Repeat("x", 3000)))
		gone = append(gone, v.ID, v.ConversationID)
	}
	stay := fill(t, s, nil, "stays")
	if _, err := s.DeleteConversations(context.Background(), gone); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteVisitors(context.Background(), gone); err != nil {
		t.Fatal(err)
	}
	s.wipeStepPages = 2
	steps, written := 0, 0
	s.wipeStep = func() {
		steps++
		if steps%2 == 0 {
			// The writer is free between steps: this returns only once
			// the message is committed.
			if _, err := s.Append(context.Background(), stay.ConversationID, store.NewMessage{From: "visitor", Text: fmt.Sprintf("during the wipe %d", steps)}); err != nil {
				t.Errorf("append during the wipe: %v", err)
			}
			written++
		}
	}
	st, err := s.Compact(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if steps < 3 || written == 0 || st.PagesWiped < 4 {
		t.Fatalf("wipe took %d steps, %d writes between them, stats %+v: want several of each", steps, written, st)
	}
	if got := storetest.FilesHolding(t, s.Path(), phrase); len(got) != 0 {
		t.Fatalf("after Compact the file still holds the phrase (%+v)", st)
	}
	msgs, err := s.Messages(stay.ConversationID, 0, 0)
	if err != nil || len(msgs) != 2+written {
		t.Fatalf("the conversation written during the wipe holds %d messages (%v), want %d", len(msgs), err, 2+written)
	}
}
