package admin_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
	"github.com/kefuhq/kefu/relay/internal/app"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/secret"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

// rawKey is an API key whose every piece is easy to search for.
const rawKey = "rawkey-7f3a9c1e5b2d4f6a8c0e-Q"

// traces returns the pieces of rawKey (any 8 bytes in a row, and the whole)
// found in the files of dir.
func traces(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+8 <= len(rawKey); i++ {
			if bytes.Contains(b, []byte(rawKey[i:i+8])) {
				found = append(found, filepath.Base(path)+": "+rawKey[i:i+8])
			}
		}
		return nil
	})
	return found
}

func TestAIKeyIsSealedAtRestAndWorksAfterRestart(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{Text: "Welcome back!", RequireKey: rawKey})
	dir := t.TempDir()
	r, _ := start(t, func(c *config.Config) { c.DataDir = dir })
	admin := signIn(t, r, "admin", adminPassword)
	admin.must(200, "PATCH", "/v1/admin/ai", map[string]any{"enabled": true, "base_url": up.BaseURL, "api_key": rawKey})
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}

	// The database file (and everything else in the data directory but the
	// key file, which holds no API key either) has no trace of the key.
	if found := traces(t, dir); len(found) > 0 {
		t.Fatalf("the data directory holds the API key in clear: %v", found)
	}
	db, err := os.ReadFile(filepath.Join(dir, boltdb.FileName))
	if err != nil || !bytes.Contains(db, []byte("kefu-sealed-v1:")) {
		t.Fatalf("the database holds no sealed key (%v): the check above proves nothing", err)
	}
	fi, err := os.Stat(filepath.Join(dir, secret.DefaultFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", fi, err)
	}

	// After a restart the key still works.
	r2, _ := start(t, func(c *config.Config) { c.DataDir = dir })
	admin = signIn(t, r2, "admin", adminPassword)
	var v aiView
	admin.must(200, "GET", "/v1/admin/ai", nil).decode(&v)
	if !v.HasKey {
		t.Fatalf("after restart: %+v", v)
	}
	text, last := runTest(t, admin)
	if text != "Welcome back!" || last.name != "done" {
		t.Fatalf("AI test after restart: %q, %+v", text, last)
	}
	if reqs := up.Requests(); reqs[len(reqs)-1].Header.Get("Authorization") != "Bearer "+rawKey {
		t.Errorf("upstream got %q", reqs[len(reqs)-1].Header.Get("Authorization"))
	}
}

// open builds a relay on dir and reports Open's error.
func open(t *testing.T, dir string, mutate func(*config.Config)) (*app.App, error) {
	t.Helper()
	cfg, err := config.Parse(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr, cfg.DataDir, cfg.AdminPassword = "127.0.0.1:0", dir, adminPassword
	if mutate != nil {
		mutate(&cfg)
	}
	a := app.New(cfg, slog.New(slog.DiscardHandler), "test")
	return a, a.Open(context.Background())
}

func TestWrongSecretKeyIsAClearErrorAndForgetGetsPastIt(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{RequireKey: rawKey})
	dir := t.TempDir()
	r, _ := start(t, func(c *config.Config) { c.DataDir = dir })
	admin := signIn(t, r, "admin", adminPassword)
	admin.must(200, "PATCH", "/v1/admin/ai", map[string]any{"enabled": true, "base_url": up.BaseURL, "api_key": rawKey})
	r.Stop()
	right, err := secret.LoadFile(filepath.Join(dir, secret.DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	_, other := secret.Generate()
	wrong, _ := secret.Parse(other)

	// Another node's key (KEFU_SECRET_KEY), or a lost key file replaced by
	// a new one: the relay refuses to start and says why and what to do.
	for name, mutate := range map[string]func(*config.Config){
		"another key": func(c *config.Config) { c.SecretKey = other },
		"a new key file": func(c *config.Config) {
			c.SecretKeyFile = filepath.Join(t.TempDir(), "new.key")
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := open(t, dir, mutate)
			if err == nil {
				t.Fatal("started with the wrong key")
			}
			msg := err.Error()
			for _, want := range []string{right.ID(), "--forget-secrets", "every node of a cluster"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			if strings.Contains(msg, rawKey) || strings.Contains(msg, other) {
				t.Errorf("error %q shows a secret", msg)
			}
		})
	}
	if _, err := open(t, dir, func(c *config.Config) { c.SecretKey = other }); !strings.Contains(err.Error(), wrong.ID()) {
		t.Errorf("error %q does not name the configured key %s", err, wrong.ID())
	}

	// --forget-secrets starts, without the key; the next start needs no flag.
	a, err := open(t, dir, func(c *config.Config) { c.SecretKey = other; c.ForgetSecrets = true })
	if err != nil {
		t.Fatalf("with --forget-secrets: %v", err)
	}
	runAndStop(t, a)
	r3, _ := start(t, func(c *config.Config) { c.DataDir = dir; c.SecretKey = other })
	var v aiView
	signIn(t, r3, "admin", adminPassword).must(200, "GET", "/v1/admin/ai", nil).decode(&v)
	if v.HasKey || v.KeyHost != "" || !v.Enabled || v.BaseURL != up.BaseURL {
		t.Errorf("after forgetting: %+v; want the settings kept without the key", v)
	}
}

// runAndStop serves a briefly and shuts it down, closing the store.
func runAndStop(t *testing.T, a *app.App) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestKeyStoredInClearIsSealedOnOpen(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{Text: "Still here.", RequireKey: rawKey})
	dir := t.TempDir()
	// A database from before keys were sealed.
	st, err := boltdb.Open(dir, boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	legacy := `{"enabled":true,"base_url":"` + up.BaseURL + `","model":"gpt-4o-mini","system_prompt":"Be brief.","temperature":0.3,` +
		`"max_answer_tokens":512,"context_tokens":3000,"api_key":"` + rawKey + `","key_host":"` + up.URL + `"}`
	if err := st.PutSettingBytes(context.Background(), "ai", []byte(legacy)); err != nil {
		t.Fatal(err)
	}
	st.Close()

	r, logs := start(t, func(c *config.Config) { c.DataDir = dir })
	stored, err := r.Store.SettingBytes("ai")
	if err != nil || bytes.Contains(stored, []byte(rawKey)) || !bytes.Contains(stored, []byte(`"api_key_sealed":"kefu-sealed-v1:`)) {
		t.Fatalf("stored after open: %s, %v; want the key sealed", stored, err)
	}
	if !strings.Contains(logs.String(), "sealed the stored AI key") {
		t.Error("the migration was not logged")
	}
	text, last := runTest(t, signIn(t, r, "admin", adminPassword))
	if text != "Still here." || last.name != "done" {
		t.Fatalf("AI test with the migrated key: %q, %+v", text, last)
	}
}
