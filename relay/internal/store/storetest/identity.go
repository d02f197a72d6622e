package storetest

import (
	"slices"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// IdentityStore is a store that finds visitors by identity (the agent
// console's earlier conversations of a person).
type IdentityStore interface {
	EraseStore
	VisitorsByIdentity(key string) ([]store.Visitor, error)
}

// Identities runs the checks of the visitors' identity index.
func Identities[S IdentityStore](t *testing.T, b Backend[S]) {
	g := b.group(t)
	defer g.wait()
	g.run("VisitorsByIdentity", func(t *testing.T) { testIdentities(t, b) })
}

// The index follows every change of traits and contact, finds a verified
// id only among verified visitors, and forgets an erased visitor.
func testIdentities[S IdentityStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	set := func(v store.Visitor, traits map[string]string, contact string) store.Visitor {
		t.Helper()
		v, err := s.UpdateVisitor(bg, v.ID, func(v *store.Visitor) error {
			v.Traits = traits
			if contact != "" {
				v.Contact = &store.Contact{Email: contact}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	find := func(kind, key string) []string {
		t.Helper()
		vs, err := s.VisitorsByIdentity(store.IdentityKey(kind, key))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, v := range vs {
			ids = append(ids, v.ID)
		}
		slices.Sort(ids)
		return ids
	}
	want := func(what string, got []string, vs ...store.Visitor) {
		t.Helper()
		var ids []string
		for _, v := range vs {
			ids = append(ids, v.ID)
		}
		slices.Sort(ids)
		if !slices.Equal(got, ids) {
			t.Errorf("%s: found %q, want %q", what, got, ids)
		}
	}
	laptop, _ := NewVisitor(t, s)
	phone, _ := NewVisitor(t, s)
	forger, _ := NewVisitor(t, s)
	byMail, _ := NewVisitor(t, s)
	lone, _ := NewVisitor(t, s)
	verified := map[string]string{"user_id": "u-1", "identity_verified": "true", "email": "ann@example.com"}
	laptop = set(laptop, verified, "")
	phone = set(phone, verified, "")
	forger = set(forger, map[string]string{"user_id": "u-1", "email": "Ann@Example.com "}, "")
	byMail = set(byMail, nil, "ann@example.com")
	want("verified id", find(store.IdentityVerified, "u-1"), laptop, phone)
	want("unsigned id", find(store.IdentityUserID, "u-1"), forger)
	want("email, verified visitors apart", find(store.IdentityEmail, "ann@example.com"), forger, byMail)
	want("nobody", find(store.IdentityEmail, "bob@example.com"))
	// Changes move a visitor between keys.
	phone = set(phone, map[string]string{"email": "bob@example.com"}, "")
	want("verified id after a change", find(store.IdentityVerified, "u-1"), laptop)
	want("new email", find(store.IdentityEmail, "bob@example.com"), phone)
	lone = set(lone, nil, "bob@example.com")
	want("contact email", find(store.IdentityEmail, "bob@example.com"), phone, lone)
	// Erased: found no more.
	if _, err := s.DeleteConversations(bg, []string{phone.ConversationID, laptop.ConversationID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteVisitors(bg, []string{phone.ID, laptop.ID}); err != nil {
		t.Fatal(err)
	}
	want("after erasure", find(store.IdentityEmail, "bob@example.com"), lone)
	want("verified id after erasure", find(store.IdentityVerified, "u-1"))
	if _, err := s.VisitorsByIdentity("not-a-key"); err == nil {
		t.Error("a malformed key was accepted")
	}
	// Another node's change is found through this one.
	if b.Peer != nil {
		p := b.Peer(t, s)
		if _, err := p.UpdateVisitor(bg, lone.ID, func(v *store.Visitor) error { v.Contact = &store.Contact{Email: "cy@example.com"}; return nil }); err != nil {
			t.Fatal(err)
		}
		want("changed on a peer", find(store.IdentityEmail, "cy@example.com"), lone)
		want("old email after a peer's change", find(store.IdentityEmail, "bob@example.com"))
	}
}
