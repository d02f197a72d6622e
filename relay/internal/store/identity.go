package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// How a visitor is recognised as the same person as another (the agent
// console's "earlier conversations"), strongest first.
const (
	// IdentityVerified: the same user id with a verified user_hash on
	// both (signed identity): nobody can claim it.
	IdentityVerified = "verified_user_id"
	// IdentityUserID: the same user_id trait, unsigned: the page said so.
	IdentityUserID = "user_id"
	// IdentityEmail: the same email trait, or the email left in the chat.
	IdentityEmail = "email"
)

// Identity is the strongest way v can be recognised: its kind and key
// ("" when it has none).
func Identity(v *Visitor) (kind, key string) {
	id := strings.TrimSpace(v.Traits["user_id"])
	switch {
	case id != "" && v.Traits["identity_verified"] == "true":
		return IdentityVerified, id
	case id != "":
		return IdentityUserID, id
	}
	if e := VisitorEmail(v); e != "" {
		return IdentityEmail, e
	}
	return "", ""
}

// VisitorEmail is v's email, lower case: the email trait, else the one
// left in the chat's contact form.
func VisitorEmail(v *Visitor) string {
	if e := strings.ToLower(strings.TrimSpace(v.Traits["email"])); e != "" {
		return e
	}
	if v.Contact != nil {
		return strings.ToLower(strings.TrimSpace(v.Contact.Email))
	}
	return ""
}

// IdentityKeys are the index keys a visitor is found under by
// VisitorsByIdentity: a verified visitor only by its verified id (a page
// cannot claim a verified customer's history by an unsigned id or an
// email); another by its unsigned id and by its email. A key is a hash
// (IdentityKey): the index holds no email or user id.
func IdentityKeys(v *Visitor) []string {
	kind, key := Identity(v)
	switch kind {
	case "":
		return nil
	case IdentityVerified:
		return []string{IdentityKey(kind, key)}
	}
	var out []string
	if id := strings.TrimSpace(v.Traits["user_id"]); id != "" {
		out = append(out, IdentityKey(IdentityUserID, id))
	}
	if e := VisitorEmail(v); e != "" {
		out = append(out, IdentityKey(IdentityEmail, e))
	}
	return out
}

// IdentityKey is the index key of an identity: 32 hex digits of SHA-256
// (safe as a bbolt key prefix and a JetStream key token).
func IdentityKey(kind, key string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + key))
	return hex.EncodeToString(sum[:16])
}

// HasIdentityKey reports whether v is found under index key k now (an
// index entry left by a change interrupted part-way is not trusted).
func HasIdentityKey(v *Visitor, k string) bool {
	for _, have := range IdentityKeys(v) {
		if have == k {
			return true
		}
	}
	return false
}

// IdentityChange is what an index of identities must add and remove when
// a visitor changes from before (nil: new) to after (nil: deleted).
func IdentityChange(before, after *Visitor) (add, remove []string) {
	var was, is []string
	if before != nil {
		was = IdentityKeys(before)
	}
	if after != nil {
		is = IdentityKeys(after)
	}
	for _, k := range is {
		if !contains(was, k) {
			add = append(add, k)
		}
	}
	for _, k := range was {
		if !contains(is, k) {
			remove = append(remove, k)
		}
	}
	return add, remove
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
