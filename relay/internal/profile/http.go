package profile

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/kefuhq/kefu/relay/internal/auth"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Routes registers GET /v1/agent/conversations/{id}/visitor: the profile
// of a conversation's visitor, for signed-in agents and admins
// (docs/console.md, "The visitor panel").
func Routes(mux httpx.Mux, authn *auth.HTTP, st Store, log *slog.Logger) {
	mux.Handle("GET /v1/agent/conversations/{id}/visitor", authn.Require(store.RoleAgent, func(w http.ResponseWriter, r *http.Request) {
		p, err := ProfileOf(st, r.PathValue("id"))
		if errors.Is(err, store.ErrNotFound) {
			httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "no such conversation")
			return
		}
		if err != nil {
			log.Error("visitor profile", "conversation", r.PathValue("id"), "err", err)
			httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		httpx.JSON(w, http.StatusOK, p)
	}))
}
