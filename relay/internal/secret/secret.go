// Package secret seals the small secrets the relay must store and later
// use in clear — the AI provider's API key, an SMTP password, webhook
// signing secrets — so that the database file alone (a backup, a copied
// volume, a stolen disk) gives none of them away.
//
// One AES-256-GCM key per installation, from a key file (generated beside
// the database at first start, mode 0600) or the environment. Every node of
// a cluster must use the same key. A sealed value names the key it was
// sealed with (an 8-hex-digit id, not the key), so the wrong key gives a
// clear error instead of garbage, and is bound to its name (the field it
// belongs in), so a sealed value cannot be moved into another field.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the key's length in bytes (AES-256).
const KeySize = 32

// prefix starts every sealed value: the format's name and version.
const prefix = "kefu-sealed-v1:"

// Errors of Open. Each matches errors.Is; the error's text says which key
// ids were involved.
var (
	// ErrNoKey: a sealed value, but no key to open it with.
	ErrNoKey = errors.New("no secret key configured")
	// ErrWrongKey: the value was sealed with another key.
	ErrWrongKey = errors.New("sealed with another secret key")
	// ErrCorrupt: the value is damaged, or not sealed by this package.
	ErrCorrupt = errors.New("sealed value is damaged")
)

// Key seals and opens values. A nil *Key opens nothing (ErrNoKey).
type Key struct {
	aead cipher.AEAD
	id   string
}

// New makes a Key from KeySize raw bytes.
func New(raw []byte) (*Key, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("secret: key is %d bytes, want %d", len(raw), KeySize)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return &Key{aead: aead, id: keyID(raw)}, nil
}

// keyID names a key without revealing it: a hash of it, domain-separated
// and cut to 32 bits (enough to tell two keys apart, useless for guessing).
func keyID(raw []byte) string {
	h := sha256.Sum256(append([]byte("kefu secret key id\x00"), raw...))
	return hex.EncodeToString(h[:4])
}

// Generate returns a new random key and its text form (what a key file
// holds).
func Generate() (*Key, string) {
	raw := make([]byte, KeySize)
	rand.Read(raw)
	k, _ := New(raw) // KeySize bytes: cannot fail
	return k, base64.StdEncoding.EncodeToString(raw)
}

// Parse reads a key's text form: the base64 of KeySize bytes (standard or
// URL alphabet, padded or not), surrounding space ignored.
func Parse(text string) (*Key, error) {
	t := strings.TrimRight(strings.TrimSpace(text), "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(t); err == nil {
			if len(raw) != KeySize {
				return nil, fmt.Errorf("secret: key is %d bytes, want %d (base64 of 32 random bytes: openssl rand -base64 32)", len(raw), KeySize)
			}
			return New(raw)
		}
	}
	return nil, errors.New("secret: key is not base64 (want 32 random bytes in base64: openssl rand -base64 32)")
}

// ID names the key in messages and in every value it seals.
func (k *Key) ID() string {
	if k == nil {
		return ""
	}
	return k.id
}

// Seal encrypts plain for the field called name. The result is text:
// "kefu-sealed-v1:<key id>:<base64url(nonce | ciphertext)>".
func (k *Key) Seal(name string, plain []byte) (string, error) {
	if k == nil {
		return "", fmt.Errorf("secret: seal %s: %w", name, ErrNoKey)
	}
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce)
	out := k.aead.Seal(nonce, nonce, plain, []byte(name))
	return prefix + k.id + ":" + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value Seal made for the same name.
func (k *Key) Open(name, sealed string) ([]byte, error) {
	id, body, ok := split(sealed)
	if !ok {
		return nil, fmt.Errorf("secret: open %s: %w (not in the sealed format)", name, ErrCorrupt)
	}
	if k == nil {
		return nil, fmt.Errorf("secret: open %s: %w (it was sealed with key %s)", name, ErrNoKey, id)
	}
	if id != k.id {
		return nil, fmt.Errorf("secret: open %s: %w: it was sealed with key %s, the key configured is %s", name, ErrWrongKey, id, k.id)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(raw) < k.aead.NonceSize()+k.aead.Overhead() {
		return nil, fmt.Errorf("secret: open %s: %w", name, ErrCorrupt)
	}
	n := k.aead.NonceSize()
	plain, err := k.aead.Open(nil, raw[:n], raw[n:], []byte(name))
	if err != nil {
		return nil, fmt.Errorf("secret: open %s: %w (or sealed for another field)", name, ErrCorrupt)
	}
	return plain, nil
}

// IsSealed reports whether s is in the sealed format.
func IsSealed(s string) bool {
	_, _, ok := split(s)
	return ok
}

func split(s string) (id, body string, ok bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return "", "", false
	}
	id, body, ok = strings.Cut(rest, ":")
	return id, body, ok && len(id) == 8
}
