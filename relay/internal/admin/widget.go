package admin

import (
	"net/http"
	"strings"

	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/origin"
	"github.com/kefuhq/kefu/relay/internal/site"
)

// widgetView is GET and PUT /v1/admin/widget's answer: the settings, the
// tag to paste into the business's pages, and the sites refused lately.
type widgetView struct {
	Settings site.Settings `json:"settings"`
	RelayURL string        `json:"relay_url"`
	Embed    string        `json:"embed"`
	// Refused are sites whose pages tried to load the widget but are not
	// allowed (most recent first), so the admin can add a forgotten one.
	Refused []origin.Refusal `json:"refused_sites"`
	// RelaySites are the relay's --allowed-origins, in force while
	// Settings.AllowedSites is empty ([] allows any site).
	RelaySites []string `json:"relay_sites"`
	// Languages are those the widget speaks, for per-language texts.
	Languages []site.Language `json:"languages"`
}

func (a *Admin) widgetView(r *http.Request) widgetView {
	set := a.d.Widget.Settings()
	if set.AllowedSites == nil {
		set.AllowedSites = []string{}
	}
	base := a.relayURL(r)
	refused := a.d.Widget.Refused()
	if refused == nil {
		refused = []origin.Refusal{}
	}
	relaySites := a.d.Widget.RelaySites()
	if relaySites == nil {
		relaySites = []string{}
	}
	return widgetView{
		Settings: set, RelayURL: base, Embed: `<script src="` + base + `/widget.js" async></script>`,
		Refused: refused, RelaySites: relaySites, Languages: site.Languages(),
	}
}

// relayURL is where customer pages reach the relay: the configured public
// URL, else the address the admin's browser used (the admin page and the
// widget are served by the same relay).
func (a *Admin) relayURL(r *http.Request) string {
	if a.d.PublicURL != "" {
		return strings.TrimRight(a.d.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil || (a.d.BehindProxy && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (a *Admin) getWidget(w http.ResponseWriter, r *http.Request) {
	httpx.JSON(w, http.StatusOK, a.widgetView(r))
}

// putWidget replaces the widget settings. Widgets pick them up on their
// next config fetch; the allowed sites apply to the next connection.
func (a *Admin) putWidget(w http.ResponseWriter, r *http.Request) {
	// Fields the body leaves out keep their values (a page from before a
	// field existed must not reset it).
	set := a.d.Widget.Settings()
	// Lists and maps are replaced, not merged into (decoding into a map
	// would keep keys the body dropped).
	set.AllowedSites, set.Translations = nil, nil
	if err := httpx.DecodeJSON(w, r, maxBodyBytes, &set); err != nil {
		return
	}
	set.AllowedSites = trimSites(set.AllowedSites)
	if err := a.d.Widget.SetSettings(r.Context(), set); err != nil {
		a.fail(w, r, "widget settings", err)
		return
	}
	a.d.Log.Info("admin: widget settings changed", "allowed_sites", set.AllowedSites, "fingerprint", set.Fingerprint, "store_days", set.StoreDays, "by", who(r))
	httpx.JSON(w, http.StatusOK, a.widgetView(r))
}

// trimSites drops blank entries (a trailing newline in the admin's list)
// and surrounding spaces; nil stays nil, which means "the flag's list".
func trimSites(sites []string) []string {
	if sites == nil {
		return nil
	}
	out := make([]string, 0, len(sites))
	for _, s := range sites {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
