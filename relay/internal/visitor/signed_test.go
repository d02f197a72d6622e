package visitor

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/internal/store"

	"github.com/kefuhq/kefu/relay/protocol"
)

const testIdentitySecret = "0123456789abcdef0123456789abcdef-test"

// sign is what the shop's server computes (docs/widget.md has it in Go,
// Node and PHP).
func sign(secret, userID string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(userID))
	return hex.EncodeToString(m.Sum(nil))
}

func TestValidUserHash(t *testing.T) {
	good := sign(testIdentitySecret, "user-42")
	for _, tc := range []struct {
		name, secret, id, hash string
		want                   bool
	}{
		{"right", testIdentitySecret, "user-42", good, true},
		{"upper-case hex", testIdentitySecret, "user-42", strings.ToUpper(good), true},
		{"another user's hash", testIdentitySecret, "user-43", good, false},
		{"another secret", testIdentitySecret + "x", "user-42", good, false},
		{"no secret verifies nothing", "", "user-42", sign("", "user-42"), false},
		{"not hex", testIdentitySecret, "user-42", "zz" + good[2:], false},
		{"cut short", testIdentitySecret, "user-42", good[:62], false},
		{"empty", testIdentitySecret, "user-42", "", false},
	} {
		if got := ValidUserHash(tc.secret, tc.id, tc.hash); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// identifyThenStore sends identify frames, stores a message (which commits
// pending traits) and returns the visitor's stored traits.
func identifyThenStore(t *testing.T, rl *relay, r *raw, frames ...string) map[string]string {
	t.Helper()
	for _, f := range frames {
		r.send(f)
	}
	r.send(`{"type":"message","id":"m1","text":"hi"}`)
	r.next("ack")
	vs, err := rl.store.Conversations(nil)
	if err != nil || len(vs) == 0 {
		t.Fatalf("conversations: %v %v", vs, err)
	}
	v, err := rl.store.Visitor(vs[0].VisitorID)
	if err != nil {
		t.Fatal(err)
	}
	return v.Traits
}

func identifyFrame(traits map[string]string) string {
	var b strings.Builder
	b.WriteString(`{"type":"identify","traits":{`)
	i := 0
	for k, v := range traits {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q:%q", k, v)
		i++
	}
	b.WriteString("}}")
	return b.String()
}

func TestSignedIdentityVerifiedAndHashNeverStored(t *testing.T) {
	opts := defaultOptions()
	opts.IdentitySecret = testIdentitySecret
	rl := newRelay(t, opts)
	r := rl.raw(nil)
	r.hello()
	got := identifyThenStore(t, rl, r, identifyFrame(map[string]string{
		"user_id": "user-42", "user_hash": sign(testIdentitySecret, "user-42"), "name": "Ann",
		"identity_verified": "true", // a page cannot set this itself
	}))
	if got["user_id"] != "user-42" || got["identity_verified"] != "true" || got["name"] != "Ann" {
		t.Errorf("traits %v", got)
	}
	if _, ok := got["user_hash"]; ok {
		t.Errorf("the hash was stored: %v", got)
	}
}

func TestUnsignedIdentityIsMarkedUnverified(t *testing.T) {
	opts := defaultOptions()
	opts.IdentitySecret = testIdentitySecret
	rl := newRelay(t, opts)
	r := rl.raw(nil)
	r.hello()
	// A forged claim: another user's id with a hash of our own making, and
	// a page trying to mark itself verified.
	got := identifyThenStore(t, rl, r, identifyFrame(map[string]string{
		"user_id": "user-7", "user_hash": sign("guessed-secret-guessed-secret-guessed", "user-7"), "identity_verified": "true",
	}))
	if got["user_id"] != "user-7" || got["identity_verified"] != "false" {
		t.Errorf("traits %v", got)
	}
}

func TestRequiredSignedIdentityRefusesOthers(t *testing.T) {
	opts := defaultOptions()
	opts.IdentitySecret = testIdentitySecret
	opts.RequireSignedIdentity = true
	rl := newRelay(t, opts)
	r := rl.raw(nil)
	r.hello()
	for _, tc := range []struct {
		name   string
		traits map[string]string
	}{
		{"missing hash", map[string]string{"user_id": "user-7", "email": "mallory@example.com"}},
		{"wrong hash", map[string]string{"user_id": "user-7", "user_hash": sign(testIdentitySecret, "user-8"), "email": "mallory@example.com"}},
		{"no user id", map[string]string{"email": "mallory@example.com"}},
	} {
		r.send(identifyFrame(tc.traits))
		if e := r.next("error"); e["code"] != string(protocol.CodeIdentityRefused) {
			t.Errorf("%s: %v", tc.name, e)
		}
	}
	// Nothing of the refused frames was stored; a signed one then is.
	got := identifyThenStore(t, rl, r, identifyFrame(map[string]string{
		"user_id": "user-42", "user_hash": sign(testIdentitySecret, "user-42"), "email": "ann@example.com",
	}))
	want := map[string]string{"user_id": "user-42", "identity_verified": "true", "email": "ann@example.com"}
	if len(got) != len(want) {
		t.Errorf("traits %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("trait %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

// A verified user's browser says identify again on every reconnect: once
// it is the user's visitor, that costs no commit.
func TestVerifiedIdentifyAgainCommitsNothing(t *testing.T) {
	opts := defaultOptions()
	opts.IdentitySecret = testIdentitySecret
	rl := newRelay(t, opts)
	identify := fmt.Sprintf(`{"type":"identify","traits":{"user_id":"u-5","user_hash":%q}}`, sign(testIdentitySecret, "u-5"))
	first := rl.raw(nil)
	token := first.hello()["token"].(string)
	first.send(identify)
	deadline := time.Now().Add(time.Minute)
	for {
		v, err := rl.store.VisitorByToken(store.UserKey("u-5"))
		if err == nil && v.Traits[TraitVerified] == "true" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the identify was never stored")
		}
		time.Sleep(10 * time.Millisecond)
	}
	first.conn.Close(websocket.StatusNormalClosure, "")
	base := rl.commits.Load()
	again := rl.raw(nil)
	again.send(fmt.Sprintf(`{"type":"hello","token":%q,"last_seq":0}`, token))
	again.next("welcome")
	again.send(identify)
	// A message after it: the identify is handled before it is stored.
	again.send(`{"type":"message","id":"m1","text":"hi"}`)
	again.next("ack")
	if n := rl.commits.Load() - base; n != 1 {
		t.Errorf("reconnect, identify again and one message: %d commits, want 1 (the message)", n)
	}
}
