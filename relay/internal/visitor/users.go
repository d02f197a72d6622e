package visitor

import (
	"context"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// userLinker is a store that links a verified user's devices to one
// visitor (boltdb, JetStream; not D1, where identities are verified but
// stay per device).
type userLinker interface {
	LinkUser(ctx context.Context, userKey, tokenHash []byte, visitorID string) (store.Visitor, error)
}

// linkUser makes the device (tokenHash, whose visitor is v) use the
// visitor of the verified user userID, so their conversation follows them
// across devices (docs/decisions.md, issue 15). The first device a user is
// verified on makes its visitor the user's — unless that visitor was
// verified as someone else (a shared computer), then a new one is made for
// the user. It returns the user's visitor id when it is not v.
func (h *Handler) linkUser(ctx context.Context, v store.Visitor, tokenHash []byte, userID string) (string, error) {
	ln, ok := h.store.(userLinker)
	if !ok || userID == "" {
		return "", nil
	}
	own := v.ID
	if other := verifiedAs(v); other != "" && other != userID {
		// Another user's visitor never becomes this user's. A visitor
		// found under the user's key is used; else a new one, with a
		// token nobody holds, is made for them.
		key := store.UserKey(userID)
		if u, err := h.store.VisitorByToken(key); err == nil {
			own = u.ID
		} else {
			_, hash := newToken()
			nv, _, err := h.store.CreateVisitor(ctx, hash, v.Fingerprint)
			if err != nil {
				h.log.Error("visitor: new visitor for a user", "err", err)
				return "", protocol.Errorf(protocol.CodeStorage, "")
			}
			own = nv.ID
		}
	}
	u, err := ln.LinkUser(ctx, store.UserKey(userID), tokenHash, own)
	if err != nil {
		h.log.Error("visitor: link user", "visitor", v.ID, "err", err)
		return "", protocol.Errorf(protocol.CodeStorage, "")
	}
	if u.ID == v.ID {
		return "", nil
	}
	h.log.Info("visitor: a verified user's device moved to their visitor", "from", v.ID, "to", u.ID)
	return u.ID, nil
}
