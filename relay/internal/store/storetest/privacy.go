package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// EraseStore is a store that can list and delete: what data rights and
// retention (package privacy) need. Every backend is one.
type EraseStore interface {
	ChatStore
	Visitors(keep func(*store.Visitor) bool) ([]store.Visitor, error)
	Conversations(keep func(*store.Conversation) bool) ([]store.Conversation, error)
	DeleteConversations(ctx context.Context, ids []string) (int, error)
	DeleteVisitors(ctx context.Context, ids []string) (int, error)
}

// Privacy runs the checks of finding, exporting, erasing and the
// retention sweep.
func Privacy[S EraseStore](t *testing.T, b Backend[S]) {
	g := b.group(t)
	defer g.wait()
	g.run("FindVisitors", func(t *testing.T) { testFind(t, b) })
	g.run("ExportThenErase", func(t *testing.T) { testErase(t, b) })
	g.run("DeleteIdempotent", func(t *testing.T) { testDeleteIdempotent(t, b) })
	g.run("RetentionSweep", func(t *testing.T) { testSweep(t, b) })
	g.run("MissedQuestions", func(t *testing.T) { testMissed(t, b) })
}

// person is a visitor made for these tests: their token, traits, and the
// texts they wrote.
type person struct {
	v     store.Visitor
	token string
	texts []string
}

func newPerson(t *testing.T, s EraseStore, traits map[string]string, texts ...string) person {
	t.Helper()
	p := person{token: store.NewID(), texts: texts}
	v, c, err := s.CreateVisitor(bg, TokenHash(p.token), "fp-"+p.token)
	if err != nil {
		t.Fatal(err)
	}
	if traits != nil {
		if v, err = s.UpdateVisitor(bg, v.ID, func(v *store.Visitor) error { v.Traits = traits; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	for i, text := range texts {
		msgs := []store.NewMessage{{ClientID: "c" + string(rune('a'+i)), From: "visitor", Text: text}}
		msgs = append(msgs, store.NewMessage{From: "bot", Author: "FAQ", Text: "answer to " + text})
		if _, err := s.Append(bg, c.ID, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	p.v = v
	return p
}

func foundIDs(fs []privacy.Found) string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.Visitor.ID)
	}
	return strings.Join(ids, ",")
}

func testFind[S EraseStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	svc := privacy.New(s, privacy.Options{})
	ann := newPerson(t, s, map[string]string{"email": "ann@example.com", "plan": "pro"}, "hello")
	annPhone := newPerson(t, s, map[string]string{"email": " ANN@example.com"}, "from my phone")
	bob := newPerson(t, s, map[string]string{"email": "bob@example.com", "plan": "free"})

	for _, tc := range []struct {
		name string
		q    privacy.Query
		want []person
	}{
		{"email, any case", privacy.Query{Email: "Ann@Example.com "}, []person{ann, annPhone}},
		{"trait", privacy.Query{Trait: "plan", Value: "PRO"}, []person{ann}},
		{"visitor id", privacy.Query{ID: bob.v.ID}, []person{bob}},
		{"conversation id", privacy.Query{ID: annPhone.v.ConversationID}, []person{annPhone}},
		{"audit hashes", privacy.Query{Hash: privacy.HashID(bob.v.ID) + "," + privacy.HashID(ann.v.ID)}, []person{ann, bob}},
		{"unknown email", privacy.Query{Email: "nobody@example.com"}, nil},
		{"unknown id", privacy.Query{ID: "nosuchvisitor00"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := svc.Find(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Find(%+v) = %s; want %d visitors", tc.q, foundIDs(got), len(tc.want))
			}
			for _, w := range tc.want {
				ok := false
				for _, f := range got {
					if f.Visitor.ID == w.v.ID {
						ok = true
						if len(f.Conversations) != 1 || f.Conversations[0].ID != w.v.ConversationID {
							t.Errorf("visitor %s found with conversations %+v; want %s", w.v.ID, f.Conversations, w.v.ConversationID)
						}
					}
				}
				if !ok {
					t.Errorf("Find(%+v) = %s; lacks %s", tc.q, foundIDs(got), w.v.ID)
				}
			}
		})
	}
	for _, q := range []privacy.Query{{}, {ID: "x", Email: "y"}, {Value: "pro"}, {ID: "x", Hash: "y"}} {
		if _, err := svc.Find(q); !errors.Is(err, privacy.ErrBadQuery) {
			t.Errorf("Find(%+v) error = %v, want ErrBadQuery", q, err)
		}
	}
}

// recorder is an Eraser that notes what it was asked to erase.
type recorder struct{ got []privacy.Subject }

func (r *recorder) Name() string { return "recorder" }
func (r *recorder) Erase(_ context.Context, s privacy.Subject) error {
	r.got = append(r.got, s)
	return nil
}

func testErase[S EraseStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	rec := &recorder{}
	svc := privacy.New(s, privacy.Options{Erasers: []privacy.Eraser{rec}})
	// One person on two devices: two visitors, two conversations.
	ann := newPerson(t, s, map[string]string{"email": "ann@example.com"}, "my parcel zebra-4471 is late", "second question")
	annPhone := newPerson(t, s, map[string]string{"email": "ann@example.com"}, "phone: zebra-4471 again")
	bob := newPerson(t, s, map[string]string{"email": "bob@example.com"}, "bob asks")
	if _, err := s.UpdateConversation(bg, annPhone.v.ConversationID, store.Close); err != nil {
		t.Fatal(err)
	}

	found, err := svc.Find(privacy.Query{Email: "ann@example.com"})
	if err != nil || len(found) != 2 {
		t.Fatalf("Find = %d, %v", len(found), err)
	}
	exp, err := svc.Export([]string{ann.v.ID, annPhone.v.ID})
	if err != nil {
		t.Fatal(err)
	}
	// The export is everything: both visitors, their traits, and every
	// message of theirs as stored.
	if len(exp.Visitors) != 2 {
		t.Fatalf("export has %d visitors, want 2", len(exp.Visitors))
	}
	for _, p := range []person{ann, annPhone} {
		var ve *privacy.VisitorExport
		for i := range exp.Visitors {
			if exp.Visitors[i].Visitor.ID == p.v.ID {
				ve = &exp.Visitors[i]
			}
		}
		if ve == nil {
			t.Fatalf("export lacks visitor %s", p.v.ID)
		}
		if ve.Visitor.Traits["email"] != "ann@example.com" || len(ve.Conversations) != 1 {
			t.Fatalf("export of %s = %+v", p.v.ID, ve)
		}
		stored, err := s.Messages(p.v.ConversationID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := ve.Conversations[0].Messages
		if len(got) != 2*len(p.texts) || len(got) != len(stored) {
			t.Fatalf("export of %s has %d messages, the store %d; want %d", p.v.ID, len(got), len(stored), 2*len(p.texts))
		}
		for i := range got {
			if !sameMessage(got[i], stored[i]) {
				t.Errorf("exported message %d = %+v, stored %+v", i, got[i], stored[i])
			}
		}
		if got[0].Text != p.texts[0] {
			t.Errorf("first exported message %q, want %q", got[0].Text, p.texts[0])
		}
	}
	if _, err := json.Marshal(exp); err != nil {
		t.Fatalf("export does not encode: %v", err)
	}

	r, err := svc.Erase(bg, []string{ann.v.ID, annPhone.v.ID}, "admin")
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if r.Visitors != 2 || r.Conversations != 2 || r.Messages != 6 {
		t.Errorf("receipt = %+v; want 2 visitors, 2 conversations, 6 messages", r)
	}
	for _, p := range []person{ann, annPhone} {
		if _, err := s.Visitor(p.v.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("erased visitor still read: %v", err)
		}
		if _, err := s.VisitorByToken(TokenHash(p.token)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("erased visitor's token still works: %v", err)
		}
		if _, err := s.Conversation(p.v.ConversationID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("erased conversation still read: %v", err)
		}
		if msgs, err := s.Messages(p.v.ConversationID, 0, 0); err != nil || len(msgs) != 0 {
			t.Errorf("erased conversation's messages: %d, %v", len(msgs), err)
		}
		if _, err := s.Append(bg, p.v.ConversationID, store.NewMessage{From: "visitor", Text: "back"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("append to an erased conversation: %v, want ErrNotFound", err)
		}
	}
	if found, err := svc.Find(privacy.Query{Email: "ann@example.com"}); err != nil || len(found) != 0 {
		t.Errorf("after erasure Find = %s, %v", foundIDs(found), err)
	}
	// Someone else's data is untouched.
	if msgs, err := s.Messages(bob.v.ConversationID, 0, 0); err != nil || len(msgs) != 2 || msgs[0].Text != "bob asks" {
		t.Errorf("bob's messages after ann's erasure: %+v, %v", msgs, err)
	}
	if v, err := s.VisitorByToken(TokenHash(bob.token)); err != nil || v.ID != bob.v.ID {
		t.Errorf("bob's token after ann's erasure: %+v, %v", v, err)
	}
	// The erasers were told what to look for.
	if len(rec.got) != 1 || len(rec.got[0].VisitorIDs) != 2 || len(rec.got[0].ConversationIDs) != 2 ||
		len(rec.got[0].Texts) != 3 || len(rec.got[0].Emails) != 2 {
		t.Errorf("eraser got %+v", rec.got)
	}
	// The audit records it without personal data.
	audit, err := svc.Audit()
	if err != nil || len(audit) != 1 {
		t.Fatalf("audit = %+v, %v", audit, err)
	}
	raw, _ := json.Marshal(audit)
	for _, secret := range []string{"ann@example.com", "zebra-4471", ann.v.ID, annPhone.v.ID} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("audit holds %q: %s", secret, raw)
		}
	}
	if a := audit[0]; a.By != "admin" || a.Conversations != 2 || len(a.Visitors) != 2 || a.Visitors[0] != privacy.HashID(ann.v.ID) && a.Visitors[1] != privacy.HashID(ann.v.ID) {
		t.Errorf("audit entry = %+v", a)
	}
	if _, err := svc.Erase(bg, []string{ann.v.ID}, "admin"); !errors.Is(err, privacy.ErrNoVisitor) {
		t.Errorf("erasing again: %v, want ErrNoVisitor", err)
	}
}

func testDeleteIdempotent[S EraseStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	p := newPerson(t, s, nil, "one")
	for i := range 2 {
		if _, err := s.DeleteConversations(bg, []string{p.v.ConversationID, "nosuchconversat"}); err != nil {
			t.Fatalf("DeleteConversations round %d: %v", i, err)
		}
		if _, err := s.DeleteVisitors(bg, []string{p.v.ID, "nosuchvisitor00"}); err != nil {
			t.Fatalf("DeleteVisitors round %d: %v", i, err)
		}
	}
	if n, err := s.DeleteConversations(bg, []string{p.v.ConversationID}); err != nil || n != 0 {
		t.Errorf("deleting a deleted conversation = %d, %v; want 0, nil", n, err)
	}
	if vs, err := s.Visitors(nil); err != nil || len(vs) != 0 {
		t.Errorf("visitors left: %+v, %v", vs, err)
	}
}

func testSweep[S EraseStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	// The service's clock runs 100 days ahead: everything made now is 100
	// days old to it.
	later := time.Now().AddDate(0, 0, 100)
	svc := privacy.New(s, privacy.Options{Now: func() time.Time { return later }})
	var closed, open []person
	for i := range 5 {
		p := newPerson(t, s, map[string]string{"email": "c@example.com"}, "closed chat", "more")
		if _, err := s.UpdateConversation(bg, p.v.ConversationID, store.Close); err != nil {
			t.Fatal(err)
		}
		closed = append(closed, p)
		if i < 2 {
			open = append(open, newPerson(t, s, nil, "still open"))
		}
	}
	// Default: forever. A sweep removes nothing.
	st, err := svc.Sweep(bg, 2, later.Add(time.Hour))
	if err != nil || st.Conversations != 0 {
		t.Fatalf("sweep with retention off = %+v, %v", st, err)
	}
	if err := svc.SetRetention(bg, privacy.Retention{ClosedDays: 90}); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetRetention(bg, privacy.Retention{ClosedDays: -1}); err == nil {
		t.Error("a negative retention was accepted")
	}
	st, err = svc.Sweep(bg, 2, later.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if st.Conversations != 5 || st.Passes != 3 || st.Unfinished || st.LastError != "" {
		t.Errorf("sweep status = %+v; want 5 conversations in 3 passes of 2, finished", st)
	}
	if got, err := svc.SweepStatus(); err != nil || got.Conversations != 5 || got.NextRun.IsZero() {
		t.Errorf("stored status = %+v, %v", got, err)
	}
	for _, p := range closed {
		if _, err := s.Conversation(p.v.ConversationID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired closed conversation kept: %v", err)
		}
		if _, err := s.VisitorByToken(TokenHash(p.token)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired visitor's token kept: %v", err)
		}
	}
	for _, p := range open {
		if msgs, err := s.Messages(p.v.ConversationID, 0, 0); err != nil || len(msgs) != 2 {
			t.Errorf("open conversation after the closed-days sweep: %d messages, %v", len(msgs), err)
		}
	}
	// Inactive visitors: the open ones are 100 days quiet.
	if err := svc.SetRetention(bg, privacy.Retention{ClosedDays: 90, InactiveDays: 365}); err != nil {
		t.Fatal(err)
	}
	if st, err := svc.Sweep(bg, 0, later); err != nil || st.Conversations != 0 {
		t.Errorf("sweep at 365 inactive days = %+v, %v; want nothing removed", st, err)
	}
	if err := svc.SetRetention(bg, privacy.Retention{InactiveDays: 30}); err != nil {
		t.Fatal(err)
	}
	if st, err := svc.Sweep(bg, 0, later); err != nil || st.Conversations != 2 || st.Visitors != 2 {
		t.Errorf("sweep at 30 inactive days = %+v, %v; want the 2 open ones", st, err)
	}
	if vs, err := s.Visitors(nil); err != nil || len(vs) != 0 {
		t.Errorf("visitors left: %d, %v", len(vs), err)
	}
	if audit, err := svc.Audit(); err != nil || len(audit) != 2 || audit[0].Kind != "retention" {
		t.Errorf("audit after two sweeps that removed something = %+v, %v", audit, err)
	}
}
