package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Signatures: each delivery carries
//
//	Kefu-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>
//
// The secret is the endpoint's whole secret string ("whsec_…") as bytes.
// A receiver recomputes the HMAC over the timestamp and the raw body,
// compares in constant time, and refuses a timestamp further than its
// replay window (Tolerance) from its clock. Every attempt is signed anew.

// SignatureHeader names the header.
const SignatureHeader = "Kefu-Signature"

// Tolerance is the replay window receivers are told to use.
const Tolerance = 5 * time.Minute

// secretPrefix starts every generated secret, so one is recognisable in a
// configuration file.
const secretPrefix = "whsec_"

// NewSecret returns a random secret: 32 bytes, base64url.
func NewSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return secretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Sign is the header value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadHeader = errors.New("malformed signature header")
	ErrSignature = errors.New("signature does not match")
	ErrStale     = errors.New("timestamp outside the replay window")
)

// Verify checks a signature header against body, as a receiver does.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case !ok:
			return ErrBadHeader
		case k == "t":
			ts = v
		case k == "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrBadHeader
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s", ErrStale, time.Unix(sec, 0).UTC().Format(time.RFC3339))
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return ErrSignature
}
