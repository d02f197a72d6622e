package identity

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Routes registers the admin's API (docs/admin.md, "Signed identity"):
//
//	GET    /v1/admin/identity          the View
//	PUT    /v1/admin/identity          {"require": bool}
//	POST   /v1/admin/identity/secret   {} generates, {"secret": "…"} sets; answers {"secret", "view"} once
//	DELETE /v1/admin/identity/secret   removes the stored secret
//
// require is auth.HTTP.Require (taken as a function so that the edge
// build, which serves no admin pages, links no sign-in code).
func (s *Service) Routes(mux httpx.Mux, require func(role string, next http.HandlerFunc) http.Handler, log *slog.Logger) {
	mux.Handle("GET /v1/admin/identity", require(store.RoleAdmin, func(w http.ResponseWriter, r *http.Request) {
		httpx.JSON(w, http.StatusOK, s.View())
	}))
	mux.Handle("PUT /v1/admin/identity", require(store.RoleAdmin, func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Require bool `json:"require"`
		}
		if err := httpx.DecodeJSON(w, r, 4096, &body); err != nil {
			return
		}
		if s.answer(w, log, s.SetRequire(r.Context(), body.Require)) {
			log.Info("identity: require signed identity", "on", body.Require)
			httpx.JSON(w, http.StatusOK, s.View())
		}
	}))
	mux.Handle("POST /v1/admin/identity/secret", require(store.RoleAdmin, func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Secret string `json:"secret"`
		}
		if r.ContentLength != 0 {
			if err := httpx.DecodeJSON(w, r, 4096, &body); err != nil {
				return
			}
		}
		secret, err := s.SetSecret(r.Context(), body.Secret)
		if s.answer(w, log, err) {
			log.Info("identity: secret replaced", "generated", body.Secret == "")
			httpx.JSON(w, http.StatusOK, struct {
				Secret string `json:"secret"`
				View   View   `json:"view"`
			}{secret, s.View()})
		}
	}))
	mux.Handle("DELETE /v1/admin/identity/secret", require(store.RoleAdmin, func(w http.ResponseWriter, r *http.Request) {
		if s.answer(w, log, s.RemoveSecret(r.Context())) {
			log.Info("identity: secret removed")
			httpx.JSON(w, http.StatusOK, s.View())
		}
	}))
}

// answer writes the error for err, if any, and reports whether there was
// none. Storage failures are 503; what the flags fix is 409; the rest is
// the admin's input (400).
func (s *Service) answer(w http.ResponseWriter, log *slog.Logger, err error) bool {
	var se *storeError
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrFromFlag):
		httpx.Error(w, http.StatusConflict, protocol.CodeConflict, "set by the relay's configuration (--identity-secret / --require-signed-identity); change it there")
	case errors.As(err, &se):
		log.Error("identity: store settings", "err", err)
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "could not save the change; try again")
	default:
		httpx.Error(w, http.StatusBadRequest, protocol.CodeBadField, err.Error())
	}
	return false
}

// storeError is a failure to seal or store, not the admin's input.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }
