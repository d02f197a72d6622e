//go:build !js

package edge

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/identity"
	"github.com/kefuhq/kefu/relay/internal/secret"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/visitor"
)

func sign(secret, userID string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(userID))
	return hex.EncodeToString(m.Sum(nil))
}

// The edge verifies signed identities over HTTP (it has no socket): with
// the secret the relay stored (sealed; the Worker opens it with
// KEFU_SECRET_KEY) and "require" on, a right hash is stored as verified and
// a wrong or missing one refused; without the key the stored secret is
// skipped with a warning and KEFU_IDENTITY_SECRET verifies.
func TestSignedIdentityOnTheEdge(t *testing.T) {
	key, keyText := secret.Generate()
	var stored string
	prep := func(st *boltdb.Store) {
		ctx := context.Background()
		idn, err := identity.New(ctx, st, identity.Options{Sealer: key})
		if err != nil {
			t.Fatal(err)
		}
		if stored, err = idn.SetSecret(ctx, ""); err != nil {
			t.Fatal(err)
		}
		if err := idn.SetRequire(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	identify := func(h *harness, traits string) (*http.Response, welcome) {
		t.Helper()
		w := decode[welcome](t, h.do(t, "POST", "/v1/conversations", "", "", ""))
		return h.do(t, "POST", "/v1/conversations/"+w.ConversationID+"/identify", w.Token, `{"traits":`+traits+`}`, ""), w
	}
	h, err := startWith(t, map[string]string{"KEFU_SECRET_KEY": keyText}, prep)
	if err != nil {
		t.Fatal(err)
	}
	resp, w := identify(h, fmt.Sprintf(`{"user_id":"7","user_hash":%q,"name":"Ann"}`, sign(stored, "7")))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signed: %s", resp.Status)
	}
	if got := decode[welcome](t, resp); got.ConversationID != w.ConversationID {
		t.Errorf("signed: moved to %q", got.ConversationID)
	}
	v, err := h.store.VisitorByToken(tokenHashOf(w.Token))
	if err != nil || v.Traits["identity_verified"] != "true" || v.Traits["name"] != "Ann" || v.Traits["user_hash"] != "" {
		t.Errorf("signed: stored %+v (%v)", v.Traits, err)
	}
	for name, traits := range map[string]string{
		"wrong hash": fmt.Sprintf(`{"user_id":"7","user_hash":%q}`, sign(stored, "8")),
		"no hash":    `{"user_id":"7","name":"Mallory"}`,
	} {
		resp, w := identify(h, traits)
		body := decode[struct{ Error struct{ Code string } }](t, resp)
		if resp.StatusCode != http.StatusForbidden || body.Error.Code != "identity_refused" {
			t.Errorf("%s: %s %+v", name, resp.Status, body)
		}
		if v, _ := h.store.VisitorByToken(tokenHashOf(w.Token)); len(v.Traits) != 0 {
			t.Errorf("%s: stored %v", name, v.Traits)
		}
	}

	// No KEFU_SECRET_KEY: the flag verifies, the stored secret does not.
	flag := strings.Repeat("k", 40)
	h2, err := startWith(t, map[string]string{"KEFU_IDENTITY_SECRET": flag}, prep)
	if err != nil {
		t.Fatal(err)
	}
	resp, w = identify(h2, fmt.Sprintf(`{"user_id":"7","user_hash":%q}`, sign(flag, "7")))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signed with the flag's secret: %s", resp.Status)
	}
	if v, err := h2.store.VisitorByToken(tokenHashOf(w.Token)); err != nil || v.Traits["identity_verified"] != "true" {
		t.Errorf("signed with the flag's secret: %v (%v)", v.Traits, err)
	}
	// "require" is still the stored one's: signed with a secret that does
	// not verify here is refused.
	if resp, _ = identify(h2, fmt.Sprintf(`{"user_id":"7","user_hash":%q}`, sign(stored, "7"))); resp.StatusCode != http.StatusForbidden {
		t.Errorf("signed with the stored secret, unopened: %s", resp.Status)
	}
}

func tokenHashOf(token string) []byte { return visitor.TokenHash(token) }
