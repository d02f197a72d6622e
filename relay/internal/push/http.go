package push

import (
	"errors"
	"net/http"

	"github.com/kefuhq/kefu/relay/internal/auth"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Routes registers the console's endpoints (any signed-in account):
//
//	GET    /v1/agent/push                 {"public_key","subscriptions":[…]} (this account's)
//	POST   /v1/agent/push/subscriptions   {"endpoint","keys":{"p256dh","auth"}} → 204
//	POST   /v1/agent/push/unsubscribe     {"endpoint"} → 204, 404
func (s *Service) Routes(mux httpx.Mux, authn *auth.HTTP) {
	agent := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, authn.Require("", h)) }
	agent("GET /v1/agent/push", func(w http.ResponseWriter, r *http.Request) {
		p := auth.FromContext(r.Context())
		subs, err := s.Subscriptions(p.Account.ID)
		if err != nil {
			s.opts.Logger.Error("push: list subscriptions", "err", err)
			httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "")
			return
		}
		if subs == nil {
			subs = []Subscription{}
		}
		httpx.JSON(w, http.StatusOK, map[string]any{"public_key": s.public, "subscriptions": subs})
	})
	agent("POST /v1/agent/push/subscriptions", func(w http.ResponseWriter, r *http.Request) {
		var sub Subscription
		if err := httpx.DecodeJSON(w, r, 8<<10, &sub); err != nil {
			return
		}
		sub.UserAgent = r.UserAgent()
		p := auth.FromContext(r.Context())
		if err := s.Subscribe(r.Context(), p.Account.ID, sub); err != nil {
			s.fail(w, err)
			return
		}
		s.opts.Logger.Info("push: subscribed", "agent", p.Account.ID)
		w.WriteHeader(http.StatusNoContent)
	})
	agent("POST /v1/agent/push/unsubscribe", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Endpoint string `json:"endpoint"`
		}
		if err := httpx.DecodeJSON(w, r, 8<<10, &body); err != nil {
			return
		}
		p := auth.FromContext(r.Context())
		if err := s.Unsubscribe(r.Context(), p.Account.ID, body.Endpoint); err != nil {
			s.fail(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (s *Service) fail(w http.ResponseWriter, err error) {
	var pe *protocol.Error
	switch {
	case errors.As(err, &pe):
		httpx.Error(w, http.StatusBadRequest, pe.Code, pe.Message)
	case errors.Is(err, store.ErrNotFound):
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "no such subscription")
	default:
		s.opts.Logger.Error("push: store", "err", err)
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "could not save the change; try again")
	}
}
