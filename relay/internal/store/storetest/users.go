package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// UserStore links a verified user's devices to one visitor (issue 15).
type UserStore interface {
	EraseStore
	LinkUser(ctx context.Context, userKey, tokenHash []byte, visitorID string) (store.Visitor, error)
}

// Users runs the checks of signed identities across devices: the first
// device's visitor becomes the user's; a second device is re-pointed to
// it and reads its conversation; two devices linking at once end on one
// visitor; erasing the user's visitor leaves no device (and no key) that
// finds it; linking to a visitor that does not exist fails and changes
// nothing.
func Users[S UserStore](t *testing.T, b Backend[S]) {
	g := b.group(t)
	defer g.wait()
	g.run("LinkDevices", func(t *testing.T) {
		s := b.Open(t, nil)
		key := store.UserKey("user-42")
		tokA, tokB := TokenHash("device-a"), TokenHash("device-b")
		a, ca, err := s.CreateVisitor(bg, tokA, "")
		if err != nil {
			t.Fatal(err)
		}
		bv, _, err := s.CreateVisitor(bg, tokB, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.LinkUser(bg, key, tokA, "no-such-visitor"); err == nil {
			t.Error("linked a user to a visitor that does not exist")
		}
		if got, err := s.VisitorByToken(key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a failed link left the user's key naming %+v (%v)", got, err)
		}
		if got, err := s.LinkUser(bg, key, tokA, a.ID); err != nil || got.ID != a.ID {
			t.Fatalf("first device: %+v %v; want its own visitor %s", got, err, a.ID)
		}
		got, err := s.LinkUser(bg, key, tokB, bv.ID)
		if err != nil || got.ID != a.ID || got.ConversationID != ca.ID {
			t.Fatalf("second device: %+v %v; want the user's visitor %s", got, err, a.ID)
		}
		for name, tok := range map[string][]byte{"device a": tokA, "device b": tokB, "user key": key} {
			if v, err := s.VisitorByToken(tok); err != nil || v.ID != a.ID {
				t.Errorf("%s finds %+v (%v); want %s", name, v, err, a.ID)
			}
		}
		if v, err := s.Visitor(bv.ID); err != nil || v.ID != bv.ID {
			t.Errorf("device b's own visitor is kept: %+v %v", v, err)
		}
		// Erased as privacy erases: the conversation, then the visitor.
		if _, err := s.DeleteConversations(bg, []string{ca.ID}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeleteVisitors(bg, []string{a.ID}); err != nil {
			t.Fatal(err)
		}
		for name, tok := range map[string][]byte{"device a": tokA, "device b": tokB, "user key": key} {
			if v, err := s.VisitorByToken(tok); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("after erasure %s still finds %+v (%v)", name, v, err)
			}
		}
		// The user comes back on device b: b's own visitor becomes theirs.
		if got, err := s.LinkUser(bg, key, tokB, bv.ID); err != nil || got.ID != bv.ID {
			t.Errorf("after erasure: %+v %v; want device b's visitor %s", got, err, bv.ID)
		}
	})
	g.run("LinkAtOnce", func(t *testing.T) {
		s := b.Open(t, nil)
		key := store.UserKey("user-7")
		const n = 4
		ids, got := make([]string, n), make([]string, n)
		toks := make([][]byte, n)
		for i := range n {
			toks[i] = TokenHash(store.NewID())
			v, _, err := s.CreateVisitor(bg, toks[i], "")
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = v.ID
		}
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				v, err := s.LinkUser(bg, key, toks[i], ids[i])
				if err != nil {
					t.Errorf("device %d: %v", i, err)
				}
				got[i] = v.ID
			})
		}
		wg.Wait()
		for i := range n {
			if got[i] != got[0] {
				t.Fatalf("devices linked to different visitors: %v", got)
			}
			if v, err := s.VisitorByToken(toks[i]); err != nil || v.ID != got[0] {
				t.Errorf("device %d finds %+v (%v); want %s", i, v, err, got[0])
			}
		}
	})
}
