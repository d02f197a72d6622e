package kb_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/kb"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream/natstest"
)

var returns = kb.Article{
	Title: "Returns policy",
	Body: "# Returns\n\nYou can return any item within 30 days of delivery for a full refund.\n\n" +
		"Print the prepaid return label from your account page, pack the item and drop it at any post office.\n\n" +
		"# Exchanges\n\nTo exchange a size, return the item and place a new order.",
}

var shipping = kb.Article{
	Title: "Shipping",
	Body:  "We ship within one business day. Delivery takes 2 to 5 days in Europe and 5 to 10 days elsewhere.",
	URL:   "https://shop.example/shipping",
}

// backends opens the store both storage modes use: a bbolt file and a
// JetStream server.
func backends(t *testing.T) map[string]func(t *testing.T) store.Settings {
	return map[string]func(t *testing.T) store.Settings{
		"bbolt": func(t *testing.T) store.Settings {
			st, err := boltdb.Open(t.TempDir(), boltdb.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		"jetstream": func(t *testing.T) store.Settings {
			nats := natstest.Run(t, natstest.Options{})
			st, err := jetstream.Open(context.Background(), nats.Connect(0), jetstream.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
}

// TestArticlesInBothStorageModes: articles are stored through the store's
// settings seam, come back after a reopen, and ground the right questions.
func TestArticlesInBothStorageModes(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			ctx := context.Background()
			s, err := kb.Open(st, slog.New(slog.DiscardHandler), nil)
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.Put(ctx, returns)
			if err != nil {
				t.Fatal(err)
			}
			sh, err := s.Put(ctx, shipping)
			if err != nil {
				t.Fatal(err)
			}
			if r.ID == "" || r.Link() != "/help/"+r.ID || sh.Link() != shipping.URL {
				t.Errorf("ids and links: %+v %+v", r, sh)
			}
			// A second service on the same store (a restart, or another node).
			s2, err := kb.Open(st, slog.New(slog.DiscardHandler), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := s2.List(); len(got) != 2 || got[0].Title != "Returns policy" || got[1].URL != shipping.URL {
				t.Fatalf("reopened: %+v", got)
			}
			g := s2.Passages("how do I return an item and get a refund?", 3)
			if len(g) == 0 || g[0].Kind != ai.GroundArticle || g[0].Name != "Returns policy" || !strings.Contains(g[0].Answer, "30 days") || g[0].URL != r.Link() {
				t.Errorf("passages for a return: %+v", g)
			}
			if g := s2.Passages("how long is delivery to Europe", 1); len(g) != 1 || g[0].URL != shipping.URL {
				t.Errorf("passages for delivery: %+v", g)
			}
			if g := s2.Passages("what is the capital of Mongolia", 3); len(g) != 0 {
				t.Errorf("an unrelated question grounded on %+v", g)
			}
			// Edit and delete.
			r.Body = "Returns are free within 60 days."
			if _, err := s2.Put(ctx, r); err != nil {
				t.Fatal(err)
			}
			if g := s2.Passages("returns", 1); len(g) != 1 || !strings.Contains(g[0].Answer, "60 days") {
				t.Errorf("after the edit: %+v", g)
			}
			if err := s2.Delete(ctx, sh.ID); err != nil {
				t.Fatal(err)
			}
			if err := s2.Delete(ctx, sh.ID); !errors.Is(err, kb.ErrNotFound) {
				t.Errorf("delete twice: %v", err)
			}
			if got := s2.List(); len(got) != 1 {
				t.Errorf("after delete: %+v", got)
			}
		})
	}
}

// TestAnotherNodesChangeIsSeen: a node whose copy is older reloads it.
func TestAnotherNodesChangeIsSeen(t *testing.T) {
	st := backends(t)["bbolt"](t)
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	a, _ := kb.Open(st, slog.New(slog.DiscardHandler), clock)
	b, _ := kb.Open(st, slog.New(slog.DiscardHandler), clock)
	if _, err := a.Put(context.Background(), shipping); err != nil {
		t.Fatal(err)
	}
	if len(b.List()) != 0 {
		t.Fatal("b reloaded before its recheck")
	}
	now = now.Add(10 * time.Second)
	if got := b.List(); len(got) != 1 {
		t.Errorf("b after the recheck: %+v", got)
	}
}

func TestBadArticlesAreRefusedAndNothingIsLost(t *testing.T) {
	st := backends(t)["bbolt"](t)
	s, _ := kb.Open(st, slog.New(slog.DiscardHandler), nil)
	if _, err := s.Put(context.Background(), shipping); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		a    kb.Article
		want string
	}{
		{"no title", kb.Article{Body: "x"}, "title: required"},
		{"two-line title", kb.Article{Title: "a\nb", Body: "x"}, "title: one line"},
		{"no body", kb.Article{Title: "t"}, "body: required"},
		{"huge body", kb.Article{Title: "t", Body: strings.Repeat("x", kb.MaxBody+1)}, "body: at most"},
		{"javascript url", kb.Article{Title: "t", Body: "x", URL: "javascript:alert(1)"}, "url: an http(s) address"},
		{"url with a user", kb.Article{Title: "t", Body: "x", URL: "https://u:p@shop.example/"}, "url: an http(s) address"},
		{"unknown id", kb.Article{ID: "nope", Title: "t", Body: "x"}, "no such article"},
	}
	for _, tt := range tests {
		_, err := s.Put(context.Background(), tt.a)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
	if got := s.List(); len(got) != 1 || got[0].Title != "Shipping" {
		t.Errorf("after refusals: %+v", got)
	}
}
