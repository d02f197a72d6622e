package identity

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/secret"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

func TestSecretSealedRotatedAndOverriddenByFlags(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "data")
	st, err := boltdb.Open(path, boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := secret.Generate()
	s, err := New(ctx, st, Options{Sealer: key})
	if err != nil {
		t.Fatal(err)
	}
	if sec, req := s.Get(); sec != "" || req {
		t.Fatalf("fresh: %q %v", sec, req)
	}
	if err := s.SetRequire(ctx, true); err == nil {
		t.Error("require without a secret was accepted")
	}
	if _, err := s.SetSecret(ctx, "short"); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Errorf("short secret: %v", err)
	}
	first, err := s.SetSecret(ctx, "")
	if err != nil || len(first) != 64 {
		t.Fatalf("generate: %q %v", first, err)
	}
	if err := s.SetRequire(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveSecret(ctx); err == nil {
		t.Error("removed the secret while identities are required")
	}
	second, err := s.SetSecret(ctx, "")
	if err != nil || second == first {
		t.Fatalf("rotate: %v (same: %v)", err, second == first)
	}
	if v := s.View(); !v.SecretSet || v.SecretSource != "admin" || !v.Require {
		t.Errorf("view %+v", v)
	}
	// Another node (or a restart) reads the same, with the same key.
	again, err := New(ctx, st, Options{Sealer: key})
	if err != nil {
		t.Fatal(err)
	}
	if sec, req := again.Get(); sec != second || !req {
		t.Errorf("reloaded: %q %v", sec, req)
	}
	// Flags win: the page can neither rotate nor turn refusal off.
	flagged, err := New(ctx, st, Options{Sealer: key, FlagSecret: strings.Repeat("f", 40), FlagRequire: true})
	if err != nil {
		t.Fatal(err)
	}
	if sec, req := flagged.Get(); sec != strings.Repeat("f", 40) || !req {
		t.Errorf("flags: %q %v", sec, req)
	}
	if _, err := flagged.SetSecret(ctx, ""); !errors.Is(err, ErrFromFlag) {
		t.Errorf("rotate under the flag: %v", err)
	}
	if err := flagged.SetRequire(ctx, false); !errors.Is(err, ErrFromFlag) {
		t.Errorf("require off under the flag: %v", err)
	}
	// Another key cannot open it: a clear error, or forgotten when told.
	other, _ := secret.Generate()
	if _, err := New(ctx, st, Options{Sealer: other}); !errors.Is(err, ErrUnreadable) {
		t.Errorf("another key: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(second)) || bytes.Contains(raw, []byte(first)) {
			t.Errorf("a secret is in %s in clear", p)
		}
		return nil
	})
	st, err = boltdb.Open(path, boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	forgot, err := New(ctx, st, Options{Sealer: other, Forget: true})
	if err != nil {
		t.Fatal(err)
	}
	if sec, req := forgot.Get(); sec != "" || req {
		t.Errorf("after forgetting: %q %v", sec, req)
	}
}
