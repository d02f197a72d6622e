package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password rules. argon2id has no input limit of its own (unlike bcrypt's
// silent 72-byte cut); the upper bound only stops hashing megabytes.
const (
	MinPasswordLen = 10  // characters
	MaxPasswordLen = 256 // bytes
)

// argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes, 1
// lane). About 25 ms per hash on this class of machine; the login
// throttle and the hash gate (hashgate.go) keep it from becoming a denial
// of service.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// ErrWeakPassword is returned for a password outside the rules.
var ErrWeakPassword = errors.New("password must be 10 to 256 bytes of text")

// CheckPassword applies the password rules.
func CheckPassword(p string) error {
	if utf8.RuneCountInString(p) < MinPasswordLen || len(p) > MaxPasswordLen || !utf8.ValidString(p) {
		return ErrWeakPassword
	}
	return nil
}

// HashPassword returns a PHC-format argon2id hash of p.
func HashPassword(p string) (string, error) {
	if err := CheckPassword(p); err != nil {
		return "", err
	}
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(p), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// VerifyPassword reports whether p matches hash, in constant time for a
// given hash.
func VerifyPassword(hash, p string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || len(p) > MaxPasswordLen {
		return false
	}
	var version int
	var mem, t uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &threads); err != nil {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(p), salt, t, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is verified against when the username is unknown, so a
// failed login takes as long whether or not the account exists. It is the
// hash of a random password nobody kept, with the current parameters (a
// test checks they match), written out so that no request pays to make it.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$aG8XPVZZXOtSbJTAOyRH5g$6S+DHnnmhHZ7nB/7NfdfWsIq3KLtbWR6c9RHfIeF0+8"

// RandomPassword returns a readable random password (128 bits).
func RandomPassword() string {
	return rand.Text()
}

// constantEqual compares secrets without leaking where they differ.
func constantEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
