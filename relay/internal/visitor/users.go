package visitor

import (
	"context"
	"net/http"
	"time"

	"github.com/kefuhq/kefu/relay/internal/httpx"

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
	key := store.UserKey(userID)
	if u, err := h.store.VisitorByToken(key); err == nil && u.ID == v.ID {
		// Already the user's visitor (every reconnect says identify
		// again): nothing to write.
		return "", nil
	}
	own := v.ID
	if other := verifiedAs(v); other != "" && other != userID {
		// Another user's visitor never becomes this user's. A visitor
		// found under the user's key is used; else a new one, with a
		// token nobody holds, is made for them.
		if u, err := h.store.VisitorByToken(key); err == nil {
			own = u.ID
		} else {
			_, hash := newToken(time.Now())
			nv, _, err := h.store.CreateVisitor(ctx, hash, v.Fingerprint)
			if err != nil {
				h.log.Error("visitor: new visitor for a user", "err", err)
				return "", protocol.Errorf(protocol.CodeStorage, "")
			}
			own = nv.ID
		}
	}
	u, err := ln.LinkUser(ctx, key, tokenHash, own)
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

// IdentifyBody is POST /v1/conversations/{id}/identify's body: the
// identify frame's traits, for clients without a socket (the edge).
type IdentifyBody struct {
	Traits map[string]string `json:"traits"`
}

// identifyHTTP is POST /v1/conversations/{id}/identify: the identify
// frame over HTTP, checked and stored the same way (signed identity
// included). It answers {"conversation_id"}: the visitor's conversation
// after it, another one when a verified user's device was moved to the
// user's (the client then starts again, POST /v1/conversations).
func (h *Handler) identifyHTTP(w http.ResponseWriter, r *http.Request) {
	s, ok := h.sessionFor(w, r)
	if !ok {
		return
	}
	if !h.visitors.Allow(s.VisitorID) {
		httpx.Error(w, http.StatusTooManyRequests, protocol.CodeRateLimited, "")
		return
	}
	var body IdentifyBody
	if err := httpx.DecodeJSON(w, r, int64(protocol.MaxTraits*320+64), &body); err != nil {
		return
	}
	if err := protocol.Validate(&protocol.Identify{Type: protocol.TypeIdentify, Traits: body.Traits}); err != nil {
		writeProtocolError(w, err)
		return
	}
	in, err := h.signedTraits(body.Traits)
	if err != nil {
		writeProtocolError(w, err)
		return
	}
	conv := s.ConversationID
	to, err := h.identify(r.Context(), s.VisitorID, hashToken(bearer(r)), in)
	if to != "" {
		if v, verr := h.store.Visitor(to); verr == nil {
			conv = v.ConversationID
		}
	}
	if err != nil {
		writeProtocolError(w, err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]string{"conversation_id": conv})
}
