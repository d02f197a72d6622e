package profile

import (
	"context"
	"log/slog"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

// The earlier conversations of a person are found by their strongest
// identity, and a page's unsigned claim never joins a verified
// customer's history.
func TestProfileEarlier(t *testing.T) {
	st, err := boltdb.Open(t.TempDir(), boltdb.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	n := 0
	visitor := func(traits map[string]string, text string) store.Visitor {
		t.Helper()
		n++
		v, c, err := st.CreateVisitor(ctx, []byte{byte(n), 1, 2, 3}, "")
		if err != nil {
			t.Fatal(err)
		}
		if v, err = st.UpdateVisitor(ctx, v.ID, func(v *store.Visitor) error { v.Traits = traits; return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Append(ctx, c.ID, store.NewMessage{From: "visitor", Text: text}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	verified := map[string]string{"user_id": "u-1", "identity_verified": "true", "email": "ann@example.com"}
	laptop := visitor(verified, "from the laptop")
	phone := visitor(verified, "from the phone")
	forger := visitor(map[string]string{"user_id": "u-1", "identity_verified": "false"}, "I am Ann, honest")
	byMail := visitor(map[string]string{"email": " ANN@example.com"}, "mail only")
	byMail2 := visitor(map[string]string{"email": "ann@example.com"}, "mail again")
	loner := visitor(nil, "nobody")
	if _, err := st.UpdateConversation(ctx, laptop.ConversationID, store.Close); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		v    store.Visitor
		how  string
		want []store.Visitor
	}{
		{"verified sees verified only", phone, MatchVerified, []store.Visitor{laptop}},
		{"unsigned sees unsigned only", forger, MatchUserID, nil},
		{"email", byMail, MatchEmail, []store.Visitor{byMail2}},
		{"nothing to go by", loner, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ProfileOf(st, tc.v.ConversationID)
			if err != nil {
				t.Fatal(err)
			}
			if p.VisitorID != tc.v.ID || p.MatchedBy != tc.how || len(p.Earlier) != len(tc.want) {
				t.Fatalf("profile = %+v; want %s matching %d", p, tc.how, len(tc.want))
			}
			for i, w := range tc.want {
				if e := p.Earlier[i]; e.VisitorID != w.ID || e.ConversationID != w.ConversationID || e.Preview == "" {
					t.Errorf("earlier[%d] = %+v, want visitor %s", i, e, w.ID)
				}
			}
		})
	}
	p, _ := ProfileOf(st, phone.ConversationID)
	if len(p.Earlier) != 1 || p.Earlier[0].Status != store.StatusClosed || p.Earlier[0].Preview != "from the laptop" {
		t.Errorf("earlier = %+v", p.Earlier)
	}
	if _, err := ProfileOf(st, "nosuchconversat"); err == nil {
		t.Error("a profile for no conversation")
	}
}
