package intents

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/router"
)

// TestOpenSeededFitsNothing: seeded with the default intents' model fitted
// ahead, Open stores and serves that model and fits none; a model that
// does not load is said in the log and the defaults are fitted instead.
func TestOpenSeededFitsNothing(t *testing.T) {
	m, err := router.Fit(router.DefaultIntents(), router.Options{})
	if err != nil {
		t.Fatal(err)
	}
	model, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		model []byte
		fits  bool
	}{
		{"fitted ahead", model, false},
		{"not a model", []byte("not a model"), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := boltdb.Open(t.TempDir(), boltdb.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var logs bytes.Buffer
			in, err := OpenSeeded(context.Background(), st, slog.New(slog.NewTextHandler(&logs, nil)), c.model)
			if err != nil {
				t.Fatal(err)
			}
			if fitted := strings.Contains(logs.String(), "model fitted"); fitted != c.fits {
				t.Errorf("fitted = %v, want %v; log:\n%s", fitted, c.fits, logs.String())
			}
			if _, _, hash := in.Model(); hash != m.Hash() {
				t.Errorf("model hash %s, want the defaults' %s", hash, m.Hash())
			}
			if got := in.Classify("how long does shipping take?").Intent; got != "shipping" {
				t.Errorf("classify: %q, want shipping", got)
			}
			// Opened again, the stored model is used as it is.
			logs.Reset()
			if _, err := Open(context.Background(), st, slog.New(slog.NewTextHandler(&logs, nil)), true); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(logs.String(), "model fitted") {
				t.Errorf("reopened: fitted again; log:\n%s", logs.String())
			}
		})
	}
}
