package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// fingerprintDomain starts every encoding so a hash made for this purpose
// cannot collide with one made for another; the version lets a later
// encoding coexist with this one.
const fingerprintDomain = "kefu-fingerprint-v1"

// Screen sizes are bucketed so the hash stays the same when a window is
// resized a little, and carries less about the device.
const screenBucketPx = 200

// maxSignalLen caps each signal; real user agents are under 300 bytes.
const maxSignalLen = 512

// Signals are what the widget passes to fingerprint. Only the hash leaves
// the browser (docs/fingerprint.md).
type Signals struct {
	VisitorID    string // random id the widget keeps in first-party storage
	UserAgent    string
	Language     string
	TimeZone     string
	ScreenWidth  int
	ScreenHeight int
}

// fingerprint returns the hex SHA-256 of the canonical encoding of s.
func fingerprint(s Signals) (string, error) {
	enc, err := canonical(s)
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	sum := sha256.Sum256(enc)
	return hex.EncodeToString(sum[:]), nil
}

// canonical encodes the domain and the fields in a fixed order, each as a
// 4-byte big-endian length followed by its UTF-8 bytes. The length prefix
// means no choice of values can move bytes from one field into the next
// ("ab"+"c" and "a"+"bc" encode differently).
func canonical(s Signals) ([]byte, error) {
	if strings.TrimSpace(s.VisitorID) == "" {
		return nil, errors.New("visitorId is required")
	}
	if s.ScreenWidth < 0 || s.ScreenHeight < 0 {
		return nil, errors.New("screen size must not be negative")
	}
	fields := []struct{ name, value string }{
		{"domain", fingerprintDomain},
		{"visitorId", s.VisitorID},
		{"userAgent", s.UserAgent},
		{"language", strings.ToLower(s.Language)},
		{"timeZone", s.TimeZone},
		{"screen", screenBucket(s.ScreenWidth, s.ScreenHeight)},
	}
	var b []byte
	for _, f := range fields {
		if len(f.value) > maxSignalLen {
			return nil, fmt.Errorf("%s is %d bytes, at most %d", f.name, len(f.value), maxSignalLen)
		}
		if !utf8.ValidString(f.value) {
			return nil, fmt.Errorf("%s is not valid UTF-8", f.name)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(f.value)))
		b = append(b, f.value...)
	}
	return b, nil
}

// screenBucket rounds a screen size down to screenBucketPx steps, as
// "WxH"; an unknown size (0) stays 0.
func screenBucket(w, h int) string {
	return strconv.Itoa(w/screenBucketPx*screenBucketPx) + "x" + strconv.Itoa(h/screenBucketPx*screenBucketPx)
}
