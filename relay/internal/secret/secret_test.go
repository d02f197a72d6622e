package secret

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k, _ := Generate()
	other, _ := Generate()
	plain := []byte("sk-proj-abcdefghijklmnopqrstuvwxyz0123456789")
	sealed, err := k.Seal("ai.api_key", plain)
	if err != nil {
		t.Fatal(err)
	}
	if !IsSealed(sealed) || !strings.HasPrefix(sealed, "kefu-sealed-v1:"+k.ID()+":") {
		t.Fatalf("sealed form %q", sealed)
	}
	if strings.Contains(sealed, "abcdefgh") {
		t.Fatal("the sealed form shows the plaintext")
	}
	again, _ := k.Seal("ai.api_key", plain)
	if again == sealed {
		t.Error("sealing twice gave the same text: the nonce is not random")
	}
	got, err := k.Open("ai.api_key", sealed)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %q, %v", got, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(sealed[strings.LastIndex(sealed, ":")+1:])
	raw[len(raw)-1] ^= 1
	flipped := sealed[:strings.LastIndex(sealed, ":")+1] + base64.RawURLEncoding.EncodeToString(raw)

	var nilKey *Key
	tests := []struct {
		name        string
		key         *Key
		field, text string
		want        error
		says        []string
	}{
		{"another key", other, "ai.api_key", sealed, ErrWrongKey, []string{k.ID(), other.ID(), "ai.api_key"}},
		{"no key", nilKey, "ai.api_key", sealed, ErrNoKey, []string{k.ID()}},
		{"another field", k, "smtp.password", sealed, ErrCorrupt, nil},
		{"a flipped bit", k, "ai.api_key", flipped, ErrCorrupt, nil},
		{"plain text", k, "ai.api_key", "sk-plain", ErrCorrupt, []string{"not in the sealed format"}},
		{"cut short", k, "ai.api_key", sealed[:len(sealed)-30], ErrCorrupt, nil},
		{"bad base64", k, "ai.api_key", "kefu-sealed-v1:" + k.ID() + ":***", ErrCorrupt, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.key.Open(tt.field, tt.text)
			if !errors.Is(err, tt.want) || got != nil {
				t.Fatalf("got %q, %v; want %v", got, err, tt.want)
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not say %q", err, s)
				}
			}
		})
	}
	if _, err := nilKey.Seal("x", plain); !errors.Is(err, ErrNoKey) {
		t.Errorf("seal without a key: %v", err)
	}
}

func TestParse(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb}, KeySize) // base64 with + and /
	want, _ := New(raw)
	for _, text := range []string{
		base64.StdEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw),
		"  " + base64.StdEncoding.EncodeToString(raw) + "\n",
	} {
		k, err := Parse(text)
		if err != nil || k.ID() != want.ID() {
			t.Errorf("Parse(%q): %v, %v", text, k.ID(), err)
		}
	}
	for _, bad := range []string{"", "not base64 at all!", base64.StdEncoding.EncodeToString(raw[:16]), base64.StdEncoding.EncodeToString(append(raw, 1))} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestLoadOrCreateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, DefaultFile)
	k, created, err := LoadOrCreateFile(path)
	if err != nil || !created {
		t.Fatalf("first start: %v, created %v", err, created)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
	b, _ := os.ReadFile(path)
	if fromText, err := Parse(string(b)); err != nil || fromText.ID() != k.ID() {
		t.Errorf("the file's text is not the key (usable as KEFU_SECRET_KEY): %v", err)
	}
	k2, created, err := LoadOrCreateFile(path)
	if err != nil || created || k2.ID() != k.ID() {
		t.Errorf("second start: id %s (want %s), created %v, %v", k2.ID(), k.ID(), created, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left behind %v", entries)
	}
	// Many starting at once agree on one key.
	path = filepath.Join(dir, "race.key")
	ids := make(chan string, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _, err := LoadOrCreateFile(path)
			if err != nil {
				t.Error(err)
				return
			}
			ids <- k.ID()
		}()
	}
	wg.Wait()
	close(ids)
	first := <-ids
	for id := range ids {
		if id != first {
			t.Errorf("racing starts got keys %s and %s", first, id)
		}
	}
	// A damaged key file is an error, never replaced.
	os.WriteFile(path, []byte("garbage\n"), 0o600)
	if _, _, err := LoadOrCreateFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("damaged key file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "garbage\n" {
		t.Error("a damaged key file was overwritten")
	}
}

func FuzzOpen(f *testing.F) {
	k, _ := New(bytes.Repeat([]byte{7}, KeySize))
	good, _ := k.Seal("f", []byte("value"))
	f.Add(good)
	f.Add("kefu-sealed-v1:" + k.ID() + ":")
	f.Add("kefu-sealed-v1:00000000:AAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := k.Open("f", s)
		if err == nil && s != good && !bytes.Equal(got, []byte("value")) {
			t.Fatalf("opened %q to %q", s, got)
		}
	})
}
