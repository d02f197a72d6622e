package storetest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// Context runs the checks of the visitor context (issue 15): the page a
// message was written on and the visitor's browser, time zone and visits
// read back as written through every read path, are in the export, and
// are gone with the visitor after an erasure or the retention sweep.
func Context[S EraseStore](t *testing.T, b Backend[S]) {
	g := b.group(t)
	defer g.wait()
	g.run("VisitorContext", func(t *testing.T) {
		s := b.Open(t, nil)
		tok := store.NewID()
		v, c, err := s.CreateVisitor(bg, TokenHash(tok), "")
		if err != nil {
			t.Fatal(err)
		}
		if v.Context != nil {
			t.Fatalf("a new visitor has a context: %+v", v.Context)
		}
		at := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
		want := store.VisitorContext{Browser: "Firefox 133", OS: "Android 15", Locale: "de-AT", TimeZone: "Europe/Vienna",
			Referrer: "https://search.example/results", Visits: 3, VisitStart: at, LastSeen: at.Add(4 * time.Minute)}
		if _, err := s.UpdateVisitor(bg, v.ID, func(v *store.Visitor) error { c := want; v.Context = &c; return nil }); err != nil {
			t.Fatal(err)
		}
		same := func(how string, got store.Visitor, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", how, err)
			}
			g := got.Context
			if g == nil || g.Browser != want.Browser || g.OS != want.OS || g.Locale != want.Locale || g.TimeZone != want.TimeZone ||
				g.Referrer != want.Referrer || g.Visits != want.Visits || !g.VisitStart.Equal(at) || !g.LastSeen.Equal(want.LastSeen) {
				t.Fatalf("%s: context %+v, want %+v", how, g, want)
			}
		}
		got, err := s.Visitor(v.ID)
		same("Visitor", got, err)
		got, err = s.VisitorByToken(TokenHash(tok))
		same("VisitorByToken", got, err)
		all, err := s.Visitors(func(x *store.Visitor) bool { return x.ID == v.ID })
		if len(all) != 1 {
			t.Fatalf("Visitors found %d, %v", len(all), err)
		}
		same("Visitors", all[0], err)
		// A visitor created with its context (one write) reads it back
		// the same way.
		tok2 := store.NewID()
		v2, _, err := s.CreateVisitor(bg, TokenHash(tok2), "", func(v *store.Visitor) { c := want; v.Context = &c })
		same("CreateVisitor with a context", v2, err)
		got, err = s.Visitor(v2.ID)
		same("Visitor created with a context", got, err)
		got, err = s.VisitorByToken(TokenHash(tok2))
		same("VisitorByToken created with a context", got, err)
		// Another update (traits) keeps the context.
		got, err = s.UpdateVisitor(bg, v.ID, func(v *store.Visitor) error { v.Traits = map[string]string{"name": "Ann"}; return nil })
		same("UpdateVisitor of traits", got, err)

		page := &store.Page{URL: "https://shop.example/orders/42", Title: "Order 42 <b>x</b>"}
		a, err := s.Append(bg, c.ID, store.NewMessage{ClientID: "p1", From: "visitor", Text: "where is it?", Page: page},
			store.NewMessage{From: "bot", Text: "let me look"})
		if err != nil {
			t.Fatal(err)
		}
		if p := a.Messages[0].Page; p == nil || *p != *page || a.Messages[1].Page != nil {
			t.Fatalf("appended pages %+v, %+v", a.Messages[0].Page, a.Messages[1].Page)
		}
		// A resend of the same client id answers the stored message, page and all.
		a, err = s.Append(bg, c.ID, store.NewMessage{ClientID: "p1", From: "visitor", Text: "where is it?"})
		if err != nil || !a.Duplicate[0] || a.Messages[0].Page == nil || *a.Messages[0].Page != *page {
			t.Fatalf("duplicate append: %+v, %v", a.Messages, err)
		}
		msgs, err := s.Messages(c.ID, 0, 0)
		if err != nil || len(msgs) != 2 || msgs[0].Page == nil || *msgs[0].Page != *page || msgs[1].Page != nil {
			t.Fatalf("Messages = %+v, %v", msgs, err)
		}
	})
	g.run("ContextExportedAndErased", func(t *testing.T) {
		s := b.Open(t, nil)
		svc := privacy.New(s, privacy.Options{})
		p := newPerson(t, s, map[string]string{"email": "cleo@example.com"})
		if _, err := s.UpdateVisitor(bg, p.v.ID, func(v *store.Visitor) error {
			v.Context = &store.VisitorContext{Browser: "Safari 17", TimeZone: "Pacific/Chatham", Referrer: "https://referrer-7731.example/", Visits: 2}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(bg, p.v.ConversationID, store.NewMessage{From: "visitor", Text: "hi",
			Page: &store.Page{URL: "https://shop.example/page-7731", Title: "Title 7731"}}); err != nil {
			t.Fatal(err)
		}
		exp, err := svc.Export([]string{p.v.ID})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(exp)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Pacific/Chatham", "referrer-7731", "page-7731", "Title 7731", "Safari 17"} {
			if !strings.Contains(string(raw), want) {
				t.Errorf("the export lacks %q: %s", want, raw)
			}
		}
		if _, err := svc.Erase(bg, []string{p.v.ID}, "admin"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Visitor(p.v.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("erased visitor still read: %v", err)
		}
		left, err := s.Visitors(func(v *store.Visitor) bool { return v.Context != nil && v.Context.TimeZone == "Pacific/Chatham" })
		if err != nil || len(left) != 0 {
			t.Errorf("context left after erasure: %+v, %v", left, err)
		}
		if msgs, err := s.Messages(p.v.ConversationID, 0, 0); err != nil || len(msgs) != 0 {
			t.Errorf("pages left after erasure: %+v, %v", msgs, err)
		}
	})
}
