package visitor

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// New tokens carry the time they were made, and are stored under it in
// front of their hash (tokens made together side by side); a token made
// before, 43 characters of randomness alone, still opens its visitor.
func TestTokenKeys(t *testing.T) {
	rl := newRelay(t, defaultOptions())
	var keys [][]byte
	for range 3 {
		w := rl.raw(nil).hello()
		tok, _ := w["token"].(string)
		stamp, secret, ok := strings.Cut(tok, ".")
		if !ok || !store.IsTimeKey(stamp) || len(secret) != 43 {
			t.Fatalf("token %q: want a time key, a dot and 256 random bits", tok)
		}
		key := hashToken(tok)
		sum := sha256.Sum256([]byte(tok))
		if string(key) != stamp+string(sum[:]) {
			t.Fatalf("token %q stored under %x: want its time, then its SHA-256", tok, key)
		}
		if v, err := rl.store.VisitorByToken(key); err != nil || v.ConversationID != w["conversation_id"] {
			t.Fatalf("visitor by token: %+v, %v", v, err)
		}
		keys = append(keys, key)
	}
	for i := 1; i < len(keys); i++ {
		if bytes.Compare(keys[i-1][:store.TimeKeyLen], keys[i][:store.TimeKeyLen]) > 0 {
			t.Fatalf("token keys made in turn do not sort in turn: %q after %q", keys[i][:8], keys[i-1][:8])
		}
	}

	old := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)) // the format before: 256 bits, no time
	sum := sha256.Sum256([]byte(old))
	if string(hashToken(old)) != string(sum[:]) {
		t.Fatal("a token without a time is not stored under its plain SHA-256")
	}
	v, _, err := rl.store.CreateVisitor(ctx5(t), sum[:], "")
	if err != nil {
		t.Fatal(err)
	}
	r := rl.raw(nil)
	r.send(fmt.Sprintf(`{"type":"hello","token":%q,"conversation_id":%q,"last_seq":0}`, old, v.ConversationID))
	w := r.next("welcome")
	if w["token"] != nil || w["conversation_id"] != v.ConversationID || w["resume"] != protocol.ResumeOK {
		t.Fatalf("welcome for an old token: %v, want its own conversation %s resumed", w, v.ConversationID)
	}
	// A token shaped like a new one but never issued opens nothing.
	forged := keys[0][:store.TimeKeyLen]
	r = rl.raw(nil)
	r.send(fmt.Sprintf(`{"type":"hello","token":%q,"last_seq":0}`, string(forged)+"."+strings.Repeat("A", 43)))
	if w := r.next("welcome"); w["token"] == nil || w["conversation_id"] == v.ConversationID {
		t.Fatalf("welcome for a forged token: %v, want a new visitor", w)
	}
}
