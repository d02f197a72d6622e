package avail

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/kefuhq/kefu/relay/internal/auth"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/i18n"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Widget is what the widget shows before the visitor writes: the status,
// and the admin's wording of the availability texts in the widget's
// language (laid over its catalogue).
type Widget struct {
	Status
	Texts map[string]string `json:"texts"`
}

// ForWidget is the availability as the widget's config carries it.
func (s *Service) ForWidget(lang string) *Widget {
	return &Widget{Status: s.Status(), Texts: s.Overrides(lang)}
}

// adminView is GET and PUT /v1/admin/availability's answer.
type adminView struct {
	Settings Settings `json:"settings"`
	Status   Status   `json:"status"`
	// Keys are the texts the admin may reword, Defaults their wording in
	// each language (what shows while a text is left empty).
	Keys     []string                     `json:"keys"`
	Defaults map[string]map[string]string `json:"defaults"`
}

// Routes registers GET /v1/widget/availability (for widgets, wrapped by
// cors) and the admin's GET and PUT /v1/admin/availability.
func (s *Service) Routes(mux httpx.Mux, authn *auth.HTTP, cors func(http.Handler) http.Handler, log *slog.Logger) {
	mux.Handle("GET /v1/widget/availability", cors(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		httpx.JSON(w, http.StatusOK, s.ForWidget(i18n.Builtin().MatchList(r.URL.Query().Get("lang"))))
	})))
	mux.Handle("GET /v1/admin/availability", authn.Require(store.RoleAdmin, func(w http.ResponseWriter, r *http.Request) {
		httpx.JSON(w, http.StatusOK, s.adminView())
	}))
	mux.Handle("PUT /v1/admin/availability", authn.Require(store.RoleAdmin, func(w http.ResponseWriter, r *http.Request) {
		var set Settings
		if err := httpx.DecodeJSON(w, r, 64<<10, &set); err != nil {
			return
		}
		if set.AwayUntil != nil && !set.AwayUntil.After(time.Now()) {
			httpx.Error(w, http.StatusBadRequest, protocol.CodeBadField, "away_until must be in the future")
			return
		}
		if err := s.SetSettings(r.Context(), set); err != nil {
			var pe *protocol.Error
			if errors.As(err, &pe) {
				httpx.Error(w, http.StatusBadRequest, pe.Code, pe.Message)
				return
			}
			log.Error("avail: store settings", "err", err)
			httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "could not save the change; try again")
			return
		}
		log.Info("avail: settings changed", "away", set.Away, "hours", len(set.Hours), "time_zone", set.TimeZone)
		httpx.JSON(w, http.StatusOK, s.adminView())
	}))
}

func (s *Service) adminView() adminView {
	v := adminView{Settings: s.Settings(), Status: s.Status(), Keys: Keys(), Defaults: map[string]map[string]string{}}
	cat := i18n.Builtin()
	for _, l := range cat.Langs() {
		m := map[string]string{}
		for _, k := range WidgetKeys {
			m[k] = cat.Widget(l, k)
		}
		for _, k := range RelayKeys {
			m[k] = cat.Relay(l, k)
		}
		v.Defaults[l] = m
	}
	return v
}
