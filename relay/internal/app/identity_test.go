package app_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/store"
	kvisitor "github.com/kefuhq/kefu/relay/internal/visitor"
	"github.com/kefuhq/kefu/relay/protocol"
)

func userHash(secret, userID string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(userID))
	return hex.EncodeToString(m.Sum(nil))
}

func (v *visitor) identify(traits map[string]string) {
	v.t.Helper()
	b, _ := json.Marshal(map[string]any{"type": protocol.TypeIdentify, "traits": traits})
	if err := v.c.WriteRaw(context.Background(), b); err != nil {
		v.t.Fatal(err)
	}
}

func tokenHash(v *visitor) []byte {
	tok, _, _ := v.c.State()
	return kvisitor.TokenHash(tok)
}

// The identity secret comes from the admin page; a visitor verified as a
// user on a second device gets the user's conversation there; a forged
// or unsigned identity never does; "require" refuses unsigned ones; and
// erasing the user erases every device's visitor.
func TestSignedIdentityFollowsTheUserAcrossDevices(t *testing.T) {
	r := apptest.Start(t, func(c *config.Config) { c.AdminPassword = adminPassword })
	admin := r.SignIn(t, "admin", adminPassword)
	status, body := admin.Do("POST", "/v1/admin/identity/secret", map[string]string{})
	var gen struct {
		Secret string
		View   struct {
			SecretSet    bool   `json:"secret_set"`
			SecretSource string `json:"secret_source"`
		}
	}
	if err := json.Unmarshal(body, &gen); status != 200 || err != nil || len(gen.Secret) != 64 || !gen.View.SecretSet || gen.View.SecretSource != "admin" {
		t.Fatalf("generate: %d %s", status, body)
	}
	if status, body := admin.Do("GET", "/v1/admin/identity", nil); status != 200 || strings.Contains(string(body), gen.Secret) {
		t.Fatalf("the secret is shown again: %d %s", status, body)
	}
	sig := func(id string) map[string]string {
		return map[string]string{"user_id": id, "user_hash": userHash(gen.Secret, id), "name": "Ann"}
	}
	verified := func(v *visitor) store.Visitor {
		t.Helper()
		var got store.Visitor
		eventually(t, "identify stored", func() bool {
			var err error
			got, err = r.Store.VisitorByToken(tokenHash(v))
			return err == nil && got.Traits["identity_verified"] != ""
		})
		return got
	}

	// Device A: verified as user 42, writes.
	a := newVisitor(t, r)
	a.identify(sig("42"))
	va := verified(a)
	if va.Traits["identity_verified"] != "true" {
		t.Fatalf("device a: %v", va.Traits)
	}
	a.send("written on device A")

	// Device B: chats anonymously first, then signs in as 42.
	b := newVisitor(t, r)
	ownB := b.conv
	b.send("anonymous on device B")
	vbOwn, err := r.Store.VisitorByToken(tokenHash(b))
	if err != nil {
		t.Fatal(err)
	}
	b.identify(sig("42"))
	b.waitMsg(func(m protocol.Message) bool { return m.Text == "written on device A" })
	if _, conv, _ := b.c.State(); conv != a.conv {
		t.Fatalf("device b is on %s; want the user's conversation %s", conv, a.conv)
	}
	if got, err := r.Store.Visitor(vbOwn.ID); err != nil || got.Traits["user_id"] != "42" || got.Traits["identity_verified"] != "true" {
		t.Errorf("device b's own visitor: %+v %v; want it marked as the user's", got.Traits, err)
	}
	// B writes into the user's conversation; A sees it live.
	b.send("written on device B")
	a.waitMsg(func(m protocol.Message) bool { return m.Text == "written on device B" })

	// A third device on the HTTP fallback: its identify answers with the
	// user's conversation, and starting again lands there.
	post := func(path, token string, body any) map[string]any {
		t.Helper()
		var out map[string]any
		if err := json.Unmarshal(r.VisitorPost(t, path, token, body), &out); err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		return out
	}
	w := post("/v1/conversations", "", nil)
	tok := w["token"].(string)
	traits, _ := json.Marshal(map[string]any{"traits": sig("42")})
	if got := post("/v1/conversations/"+w["conversation_id"].(string)+"/identify", tok, json.RawMessage(traits)); got["conversation_id"] != a.conv {
		t.Errorf("HTTP identify answered %v; want the user's conversation %s", got, a.conv)
	}
	if got := post("/v1/conversations", tok, nil); got["conversation_id"] != a.conv || got["resume"] != protocol.ResumeOK {
		t.Errorf("HTTP start after the move: %v; want %s", got, a.conv)
	}

	// Forged: a wrong hash, a hash for another user, no hash — each
	// stays on its own conversation, marked unverified.
	for i, traits := range []map[string]string{
		{"user_id": "42", "user_hash": userHash(gen.Secret+"x", "42")},
		{"user_id": "42", "user_hash": userHash(gen.Secret, "43")},
		{"user_id": "42"},
	} {
		m := newVisitor(t, r)
		m.identify(traits)
		got := verified(m)
		// A message after the identify: its traits are stored first, and
		// a move would have happened before the ack.
		m.send(fmt.Sprintf("mallory %d", i))
		if got.Traits["identity_verified"] != "false" || got.ID == va.ID {
			t.Errorf("forged %d: %+v", i, got)
		}
		if now, err := r.Store.VisitorByToken(tokenHash(m)); err != nil || now.ID != got.ID {
			t.Errorf("forged %d moved the device to %+v (%v)", i, now, err)
		}
		for _, msg := range m.messages() {
			if msg.ConversationID != m.conv || msg.Text == "written on device A" {
				t.Errorf("forged %d sees %+v", i, msg)
			}
		}
	}

	// Require signed identity: unsigned is refused with identity_refused.
	if status, body := admin.Do("PUT", "/v1/admin/identity", map[string]bool{"require": true}); status != 200 {
		t.Fatalf("require: %d %s", status, body)
	}
	u := newVisitor(t, r)
	u.identify(map[string]string{"user_id": "42"})
	u.waitFrame(func(m map[string]any) bool {
		return m["type"] == "error" && m["code"] == string(protocol.CodeIdentityRefused)
	})

	// Erasing the user's visitor erases every device's, and the old
	// anonymous conversation of device B with it.
	if status, body := admin.Do("POST", "/v1/admin/visitors/erase", map[string]any{"ids": []string{va.ID}}); status != 200 {
		t.Fatalf("erase: %d %s", status, body)
	}
	for name, h := range map[string][]byte{"device a": tokenHash(a), "device b": tokenHash(b), "user key": store.UserKey("42")} {
		if v, err := r.Store.VisitorByToken(h); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after erasure %s finds %+v (%v)", name, v, err)
		}
	}
	if _, err := r.Store.Visitor(vbOwn.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("device b's own visitor survived the user's erasure: %v", err)
	}
	if _, err := r.Store.Conversation(ownB); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("device b's anonymous conversation survived the user's erasure: %v", err)
	}
}
