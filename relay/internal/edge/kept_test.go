//go:build !js

package edge

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/kb"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/router"
)

// An instance that builds its edge again (someone else changed a settings
// document) keeps the decoded model and the knowledge base's index while
// their documents are unchanged, and makes them anew when they changed.
func TestKeptAcrossBuilds(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Parse(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	fan := NewFanout()
	st, err := boltdb.Open(t.TempDir(), boltdb.Options{OnAppend: fan.OnAppend})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kept := &Kept{}
	build := func() *Edge {
		t.Helper()
		e, err := New(ctx, Options{Config: cfg, Fanout: fan, Store: st, Kept: kept, DefaultModel: defaultModel(t), Log: slog.New(slog.NewTextHandler(tlog{t}, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Open(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close(ctx) })
		return e
	}
	first := build()
	in, knowledge, assets := first.in.Load(), kept.kb.v, first.assets
	if in == nil || knowledge == nil || assets == nil {
		t.Fatalf("nothing kept: intents %v, kb %v, assets %v", in, knowledge, assets)
	}

	// The day's token use, say: nothing it was made from.
	if err := st.PutSetting(ctx, "ai.budget", map[string]int{"used": 5}); err != nil {
		t.Fatal(err)
	}
	again := build()
	if again.in.Load() != in || kept.kb.v != knowledge || again.assets != assets {
		t.Error("built anew from unchanged documents")
	}

	if err := st.PutSettingBytes(ctx, kb.SettingArticles, []byte(`{"version":2,"articles":[{"id":"a1","title":"Returns","body":"Send it back within 30 days for a refund."}]}`)); err != nil {
		t.Fatal(err)
	}
	build()
	if kept.kb.v == knowledge {
		t.Error("the knowledge base kept after its articles changed")
	}
	knowledge = kept.kb.v

	importIntents(t, st, 7, []router.Intent{
		{Name: "hours", Examples: []string{"when are you open", "opening hours"}, Answer: "9 to 5"},
		{Name: "refunds", Examples: []string{"can I get my money back", "refund please"}, Answer: "Yes."},
	})
	changed := build()
	if changed.in.Load() == in {
		t.Fatal("the intents kept after they changed")
	}
	if res := changed.in.Load().Classify("what are your opening hours"); res.Intent != "hours" {
		t.Errorf("classified as %q by the new intents, want hours", res.Intent)
	}
	if kept.kb.v != knowledge {
		t.Error("the knowledge base built anew when only the intents changed")
	}
}
