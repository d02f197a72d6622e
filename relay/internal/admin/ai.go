package admin

import (
	"net/http"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/httpx"
)

// getAI answers the settings' admin view: ai.Settings marshals without the
// key, with has_key and key_host instead.
func (a *Admin) getAI(w http.ResponseWriter, r *http.Request) {
	httpx.JSON(w, http.StatusOK, a.d.AI.Get())
}

// patchAI applies a change. The key is write-only: it comes in through
// api_key, is bound to the base URL's host, and never goes out again.
func (a *Admin) patchAI(w http.ResponseWriter, r *http.Request) {
	var p ai.SettingsPatch
	if err := httpx.DecodeJSON(w, r, maxBodyBytes, &p); err != nil {
		return
	}
	s, err := a.d.AI.Update(r.Context(), p)
	if err != nil {
		a.fail(w, r, "ai settings", err)
		return
	}
	// p.String() says whether the key was set or removed, never its value.
	a.d.Log.Info("admin: ai settings changed", "patch", p.String(), "enabled", s.Enabled, "base_url", s.BaseURL, "model", s.Model, "by", who(r))
	httpx.JSON(w, http.StatusOK, s)
}
