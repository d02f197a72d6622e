package migrate

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream/natstest"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
)

var bg = context.Background()

// dataSet fills a bbolt store the way a shop's relay would have: several
// visitors, a long conversation, a closed one with an agent, a reopened
// one, accounts, sessions, small and large settings.
func dataSet(t *testing.T, src *boltdb.Store) (tokens []string) {
	t.Helper()
	for i := range 3 {
		tok := fmt.Sprint("token-", i)
		tokens = append(tokens, tok)
		_, c, err := src.CreateVisitor(bg, storetest.TokenHash(tok), fmt.Sprint("fp", i))
		if err != nil {
			t.Fatal(err)
		}
		msgs := []int{150, 4, 3}[i] // the first crosses two seq-index blocks
		for j := range msgs {
			from := []string{"visitor", "bot", "agent", "system"}[j%4]
			if _, err := src.Append(bg, c.ID, store.NewMessage{ClientID: fmt.Sprintf("c%d-%d", i, j), From: from, Text: fmt.Sprintf("%s %d", from, j), Intent: []string{"", "hours"}[j%2]}); err != nil {
				t.Fatal(err)
			}
		}
		switch i {
		case 1:
			for _, step := range []func(*store.Conversation) error{store.HandOff, func(c *store.Conversation) error { return store.Assign(c, "agent1", "") }, store.Close} {
				if _, err := src.UpdateConversation(bg, c.ID, step); err != nil {
					t.Fatal(err)
				}
			}
		case 2:
			if _, err := src.UpdateConversation(bg, c.ID, store.Close); err != nil {
				t.Fatal(err)
			}
			if _, err := src.Append(bg, c.ID, store.NewMessage{From: "visitor", Text: "back again"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := src.UpdateVisitor(bg, c.VisitorID, func(v *store.Visitor) error { v.Traits = map[string]string{"n": fmt.Sprint(i)}; return nil }); err != nil {
			t.Fatal(err)
		}
		if i == 1 { // a photo over several chunks with its thumbnail, a text file, notes
			photo := store.Attachment{ID: store.NewID(), ConversationID: c.ID, Name: "cup.png", Type: "image/png", ThumbType: "image/png", From: "visitor", CreatedAt: time.Now().UTC()}
			body := make([]byte, store.FileChunk*2+9)
			for k := range body {
				body[k] = byte(k % 253)
			}
			if err := src.PutAttachment(bg, photo, body, []byte("thumb")); err != nil {
				t.Fatal(err)
			}
			log := store.Attachment{ID: store.NewID(), ConversationID: c.ID, Name: "log.txt", Type: "text/plain; charset=utf-8", From: "agent", CreatedAt: time.Now().UTC()}
			if err := src.PutAttachment(bg, log, []byte("a log"), nil); err != nil {
				t.Fatal(err)
			}
			for _, text := range []string{"refund approved", "called the courier"} {
				if _, _, err := src.AddNote(bg, c.ID, store.NewNote{ClientID: text, AuthorID: "agent1", Author: "Mei", Text: text}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	now := time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)
	for i, name := range []string{"admin", "Ann"} {
		a := store.Account{ID: fmt.Sprintf("acct%012d", i), Username: name, Name: name, Role: store.RoleAgent, PasswordHash: "h", Capacity: 3, CreatedAt: now}
		if err := src.CreateAccount(bg, a); err != nil {
			t.Fatal(err)
		}
		if err := src.PutSession(bg, storetest.TokenHash("s"+name), store.Session{AccountID: a.ID, CSRF: "x", CreatedAt: now, LastSeen: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.PutSetting(bg, "widget", map[string]string{"title": "Hello"}); err != nil {
		t.Fatal(err)
	}
	model := make([]byte, 700<<10)
	for i := range model {
		model[i] = byte(i % 251)
	}
	if err := src.PutSettingBytes(bg, "intents.model", model); err != nil {
		t.Fatal(err)
	}
	return tokens
}

// same fails unless dst holds exactly what src holds.
func same(t *testing.T, src *boltdb.Store, dst *jetstream.Store, tokens []string) {
	t.Helper()
	convs, err := src.Conversations(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range convs {
		got, err := dst.Conversation(c.ID)
		if err != nil {
			t.Fatalf("conversation %s: %v", c.ID, err)
		}
		gt, ct := got.UpdatedAt, c.UpdatedAt
		got.UpdatedAt, got.CreatedAt, c.UpdatedAt, c.CreatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if got != c || !gt.Equal(ct) {
			t.Errorf("conversation\n got %+v\nwant %+v", got, c)
		}
		wantFiles, _ := src.Attachments(c.ID)
		haveFiles, err := dst.Attachments(c.ID)
		if err != nil || len(haveFiles) != len(wantFiles) {
			t.Fatalf("conversation %s: %d attachments, %v; want %d", c.ID, len(haveFiles), err, len(wantFiles))
		}
		for _, a := range wantFiles {
			for _, thumb := range []bool{false, true} {
				_, w, werr := src.Attachment(c.ID, a.ID, thumb)
				_, h, herr := dst.Attachment(c.ID, a.ID, thumb)
				if (werr == nil) != (herr == nil) || string(w) != string(h) {
					t.Errorf("attachment %s (thumb %v): %d bytes, %v; want %d, %v", a.Name, thumb, len(h), herr, len(w), werr)
				}
			}
		}
		wantNotes, _ := src.Notes(c.ID)
		haveNotes, err := dst.Notes(c.ID)
		if err != nil || len(haveNotes) != len(wantNotes) {
			t.Fatalf("conversation %s: %d notes, %v; want %d", c.ID, len(haveNotes), err, len(wantNotes))
		}
		for i := range wantNotes {
			w, h := wantNotes[i], haveNotes[i]
			if !w.Time.Equal(h.Time) || w.ID != h.ID || w.Text != h.Text || w.AfterSeq != h.AfterSeq || w.Author != h.Author {
				t.Errorf("note %d = %+v, want %+v", i, h, w)
			}
		}
		want, _ := src.Messages(c.ID, 0, 0)
		have, err := dst.Messages(c.ID, 0, 0)
		if err != nil || len(have) != len(want) {
			t.Fatalf("conversation %s: %d messages, %v; want %d", c.ID, len(have), err, len(want))
		}
		for i := range want {
			w, h := want[i], have[i]
			if !w.Time.Equal(h.Time) {
				t.Errorf("message %d time %v, want %v", i, h.Time, w.Time)
			}
			w.Time, h.Time = time.Time{}, time.Time{}
			if w != h {
				t.Errorf("message %d\n got %+v\nwant %+v", i, h, w)
			}
		}
	}
	for _, tok := range tokens {
		w, _ := src.VisitorByToken(storetest.TokenHash(tok))
		h, err := dst.VisitorByToken(storetest.TokenHash(tok))
		if err != nil || h.ID != w.ID || !reflect.DeepEqual(h.Traits, w.Traits) || h.ConversationID != w.ConversationID {
			t.Errorf("visitor by %s = %+v, %v; want %+v", tok, h, err, w)
		}
	}
	accts, _ := dst.Accounts()
	if len(accts) != 2 || accts[0].Username != "Ann" {
		t.Errorf("accounts = %+v", accts)
	}
	if a, err := dst.AccountByUsername("ann"); err != nil || a.ID != "acct000000000001" {
		t.Errorf("account by username = %+v, %v", a, err)
	}
	if s, err := dst.Session(storetest.TokenHash("sAnn")); err != nil || s.AccountID != "acct000000000001" {
		t.Errorf("session = %+v, %v", s, err)
	}
	for _, name := range []string{"widget", "intents.model"} {
		w, _ := src.SettingBytes(name)
		h, err := dst.SettingBytes(name)
		if err != nil || string(h) != string(w) {
			t.Errorf("setting %s: %d bytes, %v; want %d", name, len(h), err, len(w))
		}
	}
}

func TestRoundTrip(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	src, err := boltdb.Open(t.TempDir(), boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tokens := dataSet(t, src)
	c := natstest.Run(t, natstest.Options{})
	dst, err := jetstream.Open(bg, c.Connect(0), jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()

	n, err := BoltToJetStream(bg, src, dst, log, Options{})
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if want := (Counts{Visitors: 3, Conversations: 3, Messages: 158, Attachments: 2, Notes: 2, Accounts: 2, Sessions: 2, Settings: 2}); n != want {
		t.Errorf("counts = %v, want %v", n, want)
	}
	same(t, src, dst, tokens)

	// The relay went on a little before it was stopped: a re-run moves the
	// rest, and stores nothing twice.
	v, _ := src.VisitorByToken(storetest.TokenHash(tokens[0]))
	for j := range 20 {
		if _, err := src.Append(bg, v.ConversationID, store.NewMessage{ClientID: fmt.Sprint("late", j), From: "visitor", Text: "late"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := BoltToJetStream(bg, src, dst, log, Options{}); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	same(t, src, dst, tokens)
	if _, err := BoltToJetStream(bg, src, dst, log, Options{}); err != nil {
		t.Fatalf("third migrate: %v", err)
	}
	same(t, src, dst, tokens)
	all, _ := dst.Messages(v.ConversationID, 0, 0)
	if len(all) != 170 {
		t.Errorf("after three runs the long conversation has %d messages, want 170", len(all))
	}

	// The cluster carries on where the single node stopped.
	resend, err := dst.Append(bg, v.ConversationID, store.NewMessage{ClientID: "c0-5", From: "bot", Text: "resent"})
	if err != nil || !resend.Duplicate[0] || resend.Messages[0].Seq != 6 {
		t.Errorf("resend of a migrated client id = %+v, %v; want the stored seq 6", resend, err)
	}
	next, err := dst.Append(bg, v.ConversationID, store.NewMessage{ClientID: "new", From: "visitor", Text: "hi"})
	if err != nil || next.Messages[0].Seq != 171 {
		t.Errorf("first append after the migration = %+v, %v; want seq 171", next.Messages, err)
	}
}
