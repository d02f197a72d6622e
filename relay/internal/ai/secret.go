package ai

import (
	"fmt"
	"log/slog"
)

// Secret holds an API key. Every way Go prints or logs a value shows
// "[redacted]" instead of the key, so a Settings in a log line, an error or
// a %+v is safe. Reveal is the only way out, used where the key is sent.
type Secret struct{ v string }

// NewSecret wraps a key.
func NewSecret(key string) Secret { return Secret{v: key} }

// Reveal returns the key. Call it only to send it to its own host or to
// store it.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether no key is set.
func (s Secret) IsZero() bool { return s.v == "" }

const redactedText = "[redacted]"

func (s Secret) String() string   { return s.mask() }
func (s Secret) GoString() string { return s.mask() }

// Format covers every verb, so %q, %x and %v all stay masked.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.mask())) }

// LogValue keeps the key out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.mask()) }

// MarshalText keeps the key out of any text or JSON encoding; the stored
// form (Settings.MarshalStored) seals it explicitly.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.mask()), nil }

func (s Secret) mask() string {
	if s.v == "" {
		return ""
	}
	return redactedText
}
