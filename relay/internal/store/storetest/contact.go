package storetest

import (
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// Contact runs the checks of what notifications keep on a visitor: the
// contact they left (email, name, transcript wish, page) reads back as
// written, and an unsubscribe keeps the rest.
func Contact[S ChatStore](t *testing.T, b Backend[S]) {
	g := b.group(t)
	defer g.wait()
	g.run("VisitorContact", func(t *testing.T) {
		s := b.Open(t, nil)
		v, _ := NewVisitor(t, s)
		if v.Contact != nil {
			t.Fatalf("a new visitor has a contact: %+v", v.Contact)
		}
		at := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
		want := store.Contact{Email: "ann@example.com", Name: "Ann <b>", Transcript: true, Page: "https://shop.example/cart?x=1", At: at}
		if _, err := s.UpdateVisitor(bg, v.ID, func(v *store.Visitor) error { c := want; v.Contact = &c; return nil }); err != nil {
			t.Fatal(err)
		}
		got, err := s.Visitor(v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Contact == nil || got.Contact.Email != want.Email || got.Contact.Name != want.Name || !got.Contact.Transcript ||
			got.Contact.Page != want.Page || !got.Contact.At.Equal(at) || got.Contact.Unsubscribed {
			t.Fatalf("contact read back as %+v, want %+v", got.Contact, want)
		}
		if _, err := s.UpdateVisitor(bg, v.ID, func(v *store.Visitor) error { v.Contact.Unsubscribed = true; return nil }); err != nil {
			t.Fatal(err)
		}
		if got, err = s.Visitor(v.ID); err != nil || got.Contact == nil || !got.Contact.Unsubscribed || got.Contact.Email != want.Email {
			t.Fatalf("after unsubscribe: %+v, %v", got.Contact, err)
		}
	})
}
