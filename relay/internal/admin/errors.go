package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/auth"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/intents"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/kefuhq/kefu/router"
)

// Request body limits. An import may carry the router's whole allowance
// (20 000 examples of up to 500 bytes, 500 answers of up to 4 000 bytes).
const (
	maxBodyBytes   = 64 << 10
	maxIntentBytes = 1 << 20
	maxImportBytes = 16 << 20
)

// errConflict is a refused change that would leave things inconsistent
// (a duplicate name, disabling the last admin).
type errConflict struct{ msg string }

func (e errConflict) Error() string { return e.msg }

// fail answers err with the catalogue's code. Validation errors carry
// their own plain message (they never contain secrets: ai.Settings.Validate
// never mentions the key); anything unexpected is logged with op and
// answered without details.
func (a *Admin) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	var pe *protocol.Error
	var conflict errConflict
	var refused interface{ Conflict() bool }
	switch {
	case errors.As(err, &pe):
		httpx.Error(w, http.StatusBadRequest, pe.Code, pe.Message)
	case errors.As(err, &conflict):
		httpx.Error(w, http.StatusConflict, protocol.CodeConflict, conflict.msg)
	case errors.As(err, &refused) && refused.Conflict():
		// An action that does not apply now (webhook: skip when not paused).
		httpx.Error(w, http.StatusConflict, protocol.CodeConflict, err.Error())
	case errors.Is(err, ai.ErrInvalidSettings):
		// "ai: apply settings: invalid ai settings: base_url: …" → "base_url: …"
		msg := err.Error()
		if _, after, ok := strings.Cut(msg, ai.ErrInvalidSettings.Error()+": "); ok {
			msg = after
		}
		httpx.Error(w, http.StatusBadRequest, protocol.CodeBadField, msg)
	case errors.Is(err, router.ErrInvalidIntents), errors.Is(err, auth.ErrWeakPassword):
		httpx.Error(w, http.StatusBadRequest, protocol.CodeBadField, err.Error())
	case errors.Is(err, store.ErrNotFound), errors.Is(err, intents.ErrNotFound):
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "")
	case errors.Is(err, store.ErrExists):
		httpx.Error(w, http.StatusConflict, protocol.CodeConflict, "that username is taken")
	case errors.Is(err, auth.ErrBusy):
		w.Header().Set("Retry-After", "1")
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeRateLimited, auth.ErrBusy.Error())
	case errors.Is(err, store.ErrClosed), errors.Is(err, context.Canceled):
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeShuttingDown, "")
	default:
		a.d.Log.Error("admin: "+op, "by", who(r), "err", err)
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "could not save the change; try again")
	}
}

// badField answers 400 bad_field with msg.
func badField(w http.ResponseWriter, msg string) {
	httpx.Error(w, http.StatusBadRequest, protocol.CodeBadField, msg)
}
