package visitor

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"strconv"
	"strings"

	"github.com/kefuhq/kefu/relay/protocol"
)

// Signed identity (issue 15): a page proves which of the shop's users its
// visitor is with user_hash = hex(HMAC-SHA256(secret, user_id)), computed
// on the shop's server with the secret the relay is given; the page's own
// JavaScript never holds the secret, so it cannot sign another user_id.
const (
	traitUserID   = "user_id"
	traitUserHash = "user_hash"
	// TraitVerified is written by the relay only: "true" when the user_id
	// beside it was signed, "false" when it was not. A page cannot set it.
	TraitVerified = "identity_verified"
)

// signedTraits returns what of an identify frame's traits is stored: the
// hash checked and dropped (it is a credential, never stored nor shown),
// identity_verified set by the relay for a frame naming a user_id. With
// RequireSignedIdentity a frame without a valid signature is refused
// whole: nothing in it is stored.
func (h *Handler) signedTraits(in map[string]string) (map[string]string, error) {
	out := maps.Clone(in)
	hash, hasHash := out[traitUserHash]
	delete(out, traitUserHash)
	delete(out, TraitVerified)
	id, hasID := out[traitUserID]
	secret, require := h.identity()
	ok := hasID && hasHash && id != "" && ValidUserHash(secret, id, hash)
	if require && !ok {
		why := "identify needs user_id and user_hash = hex(HMAC-SHA256(identity secret, user_id))"
		if hasHash {
			why = "user_hash does not match user_id"
		}
		return nil, protocol.Errorf(protocol.CodeIdentityRefused, why)
	}
	if hasID {
		out[TraitVerified] = strconv.FormatBool(ok)
	}
	return out, nil
}

// identity is the secret and the switch in force now.
func (h *Handler) identity() (secret string, require bool) {
	if h.opts.Identity != nil {
		return h.opts.Identity()
	}
	return h.opts.IdentitySecret, h.opts.RequireSignedIdentity
}

// ValidUserHash reports whether hash is hex(HMAC-SHA256(secret, userID)),
// in either letter case, compared in constant time. An empty secret
// verifies nothing.
func ValidUserHash(secret, userID, hash string) bool {
	if secret == "" {
		return false
	}
	got, err := hex.DecodeString(strings.ToLower(hash))
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(userID))
	return hmac.Equal(got, m.Sum(nil))
}
