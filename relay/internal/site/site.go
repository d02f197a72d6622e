// Package site serves what a customer's web page loads: the widget loader
// GET /widget.js, its settings GET /v1/widget/config, and the demo shop page
// GET /demo.
package site

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/i18n"
	"github.com/kefuhq/kefu/relay/internal/origin"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/web"
	"github.com/kefuhq/kefu/relay/protocol"
)

// SettingWidget is the store's name for the widget settings.
const SettingWidget = "widget"

// Settings are what the business configures for its widget.
type Settings struct {
	Title    string `json:"title"`
	Greeting string `json:"greeting"`
	Color    string `json:"color"`    // #rrggbb
	Position string `json:"position"` // right or left
	ZIndex   int    `json:"z_index"`
	// AllowedSites, when set, replaces --allowed-origins: the sites that
	// may embed the widget (host patterns; "*" for any).
	AllowedSites []string `json:"allowed_sites"`
	// Translations are the texts above in other languages, by the
	// widget's language names (de, fr, ...; lang.go).
	Translations map[string]Texts `json:"translations,omitempty"`
	// Fingerprint turns the session fingerprint on (off by default: it
	// stores a random id in the visitor's browser and reads device
	// details, which needs their consent in the EU; docs/privacy.md).
	Fingerprint bool `json:"fingerprint"`
	// StoreDays is how long the widget keeps the chat (token, transcript,
	// unsent messages) in the visitor's browser after they last used it.
	StoreDays int `json:"store_days"`
	// PrivacyNotice and PrivacyURL are shown in the widget before the
	// visitor's first message, when set.
	PrivacyNotice string `json:"privacy_notice"`
	PrivacyURL    string `json:"privacy_url"`
}

// Bounds of the privacy settings.
const (
	DefaultStoreDays = 30
	MaxStoreDays     = 365
)

// DefaultSettings are used until the admin saves others.
func DefaultSettings() Settings {
	en := i18n.Builtin().Catalogue(i18n.Fallback).Widget
	return Settings{
		// Shown in the visitor's language while unedited (textsIn).
		Title:    en["title"],
		Greeting: en["greeting"],
		Color:    "#2563eb",
		Position: "right",
		// Just under the 32-bit maximum, so host pages can still put a
		// cookie banner above the launcher if they must.
		ZIndex:    2147483000,
		StoreDays: DefaultStoreDays,
	}
}

// hexColor reports whether s is a colour like #2563eb (^#[0-9a-fA-F]{6}$),
// checked by hand: the edge build links no regexp (docs/decisions.md,
// issue 17).
func hexColor(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Validate checks settings before they are stored.
func (s Settings) Validate() error {
	switch {
	case strings.TrimSpace(s.Title) == "" || utf8.RuneCountInString(s.Title) > 60:
		return protocol.Errorf(protocol.CodeBadField, "title must be 1 to 60 characters")
	case utf8.RuneCountInString(s.Greeting) > 500:
		return protocol.Errorf(protocol.CodeBadField, "greeting must be at most 500 characters")
	case !hexColor(s.Color):
		return protocol.Errorf(protocol.CodeBadField, "color must look like #2563eb")
	case s.Position != "right" && s.Position != "left":
		return protocol.Errorf(protocol.CodeBadField, "position must be right or left")
	case s.ZIndex < 0 || s.ZIndex > 2147483647:
		return protocol.Errorf(protocol.CodeBadField, "z_index must be between 0 and 2147483647")
	case len(s.AllowedSites) > 100:
		return protocol.Errorf(protocol.CodeBadField, "at most 100 allowed sites")
	case s.StoreDays < 1 || s.StoreDays > MaxStoreDays:
		return protocol.Errorf(protocol.CodeBadField, fmt.Sprintf("store_days must be 1 to %d", MaxStoreDays))
	case utf8.RuneCountInString(s.PrivacyNotice) > 500:
		return protocol.Errorf(protocol.CodeBadField, "privacy_notice must be at most 500 characters")
	case s.PrivacyURL != "" && !httpURL(s.PrivacyURL):
		return protocol.Errorf(protocol.CodeBadField, "privacy_url must be an http(s) address of at most 500 characters")
	}
	for _, p := range s.AllowedSites {
		if err := origin.CheckPattern(p); err != nil && p != "*" {
			return protocol.Errorf(protocol.CodeBadField, err.Error())
		}
	}
	return validateTranslations(s.Translations)
}

// httpURL reports an absolute http(s) URL with a host: the widget makes a
// link of it, so no javascript: or data: address gets through.
func httpURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && len(v) <= 500 && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// ModelInfo tells the site which model is current.
type ModelInfo func() (hash string)

// Options are what differs between deployments; the zero value is the
// relay's.
type Options struct {
	// NoSocket says there is no visitor WebSocket (the edge build): the
	// config's "ws" is null, so widgets use HTTP and server-sent events at
	// once instead of failing three sockets first.
	NoSocket bool
	// Wasm, when set, announces a classifier module served from elsewhere
	// (the edge build serves it as a static file, outside its own code)
	// instead of the one in assets.
	Wasm *WasmFiles
	// FileBytes is the largest attachment the relay takes; 0 (the edge
	// build, or attachments turned off) tells widgets to offer none.
	FileBytes int64
	// Availability, when set, is the team's availability in a language
	// (avail.Service.ForWidget), put in the config so the widget shows it
	// before the visitor writes.
	Availability func(lang string) any
	// Answers is the hash of the FAQ answers translated into a language
	// (intents.Service.AnswersHash), "" when there are none: the config
	// names them so the widget shows its visitor's language.
	Answers func(lang string) string
}

// WasmFiles are the URLs of the widget's WebAssembly classifier.
type WasmFiles struct {
	Module Asset  // kefu.wasm
	Exec   string // Go's wasm_exec.js
}

// Site serves the customer-facing endpoints.
type Site struct {
	assets   *web.Assets
	store    store.Settings
	origins  *origin.Policy
	model    ModelInfo
	opts     Options
	settings atomic.Pointer[Settings]
}

// New loads the stored widget settings (or the defaults) and applies their
// allowed sites to origins.
func New(assets *web.Assets, st store.Settings, origins *origin.Policy, model ModelInfo, opts Options) (*Site, error) {
	s := &Site{assets: assets, store: st, origins: origins, model: model, opts: opts}
	set := DefaultSettings()
	if _, err := st.Setting(SettingWidget, &set); err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	s.settings.Store(&set)
	s.applySites(set)
	return s, nil
}

// applySites puts the admin's site list in force (none: the flag's).
func (s *Site) applySites(set Settings) {
	switch {
	case len(set.AllowedSites) == 0:
		s.origins.Set(nil)
	case slices.Contains(set.AllowedSites, "*"):
		s.origins.Set([]string{})
	default:
		s.origins.Set(set.AllowedSites)
	}
}

// RelaySites are the --allowed-origins patterns, in force while the
// settings list no site (empty allows any).
func (s *Site) RelaySites() []string { return s.origins.FlagPatterns() }

// Refused lists the sites whose pages were refused recently and still
// would be (origin.Policy.Refused), for the admin page's warning.
func (s *Site) Refused() []origin.Refusal { return s.origins.Refused() }

// Reload rereads the stored widget settings (another node of a cluster
// saved them).
func (s *Site) Reload() error {
	set := DefaultSettings()
	if _, err := s.store.Setting(SettingWidget, &set); err != nil {
		return fmt.Errorf("site: reload: %w", err)
	}
	s.settings.Store(&set)
	s.applySites(set)
	return nil
}

// Settings returns the current widget settings.
func (s *Site) Settings() Settings { return *s.settings.Load() }

// SetSettings validates and stores new widget settings.
func (s *Site) SetSettings(ctx context.Context, set Settings) error {
	if err := set.Validate(); err != nil {
		return err
	}
	if err := s.store.PutSetting(ctx, SettingWidget, set); err != nil {
		return fmt.Errorf("site: %w", err)
	}
	s.settings.Store(&set)
	s.applySites(set)
	return nil
}

// Config is what GET /v1/widget/config returns. URLs are relative to the
// relay; the loader resolves them against its own script URL.
type Config struct {
	Settings
	AllowedSites []string         `json:"allowed_sites,omitempty"` // never shown to sites
	Translations map[string]Texts `json:"translations,omitempty"`  // resolved into Title and Greeting
	// Lang is the language the widget speaks, chosen from ?lang= (the
	// visitor's preferences, most wanted first); Dir its direction;
	// Messages the URL of its catalogue.
	Lang     string `json:"lang"`
	Dir      string `json:"dir"`
	Messages string `json:"messages"`
	Model    *Asset `json:"model"` // null when no intents are configured
	// Answers are the FAQ answers in Lang (intent → text) where the shop
	// translated them; the model's own answer is shown otherwise. Absent
	// when there are none.
	Answers  *Asset `json:"answers,omitempty"`
	Wasm     *Asset `json:"wasm"` // null when the wasm was not built
	WasmExec string `json:"wasm_exec,omitempty"`
	Panel    string `json:"panel"`
	// Markdown is the shared renderer module (widget/shared/markdown.js)
	// the panel renders answers and agents' replies with.
	Markdown string  `json:"markdown"`
	WS       *string `json:"ws"` // null: no socket here, use SSE
	SSE      string  `json:"sse"`
	// Extra is the panel's lazily loaded part: attachments and the
	// rating of a closed conversation.
	Extra string `json:"extra,omitempty"`
	// Files is what the widget needs to send attachments; null where the
	// relay takes none (turned off, or the edge build).
	Files *Files `json:"files"`
	// Availability is the team's (avail.Widget): online, replies within,
	// away until; absent where the relay has no people (the edge).
	Availability any `json:"availability,omitempty"`
}

// Files tells the widget about attachments.
type Files struct {
	MaxBytes int64 `json:"max_bytes"`
	// Accept is the file picker's filter: the types the relay takes.
	Accept string `json:"accept"`
}

// FilesAccept is the picker filter for what the relay takes.
const FilesAccept = "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain,.txt,.log,.csv,.pdf"

// Asset is a versioned, immutable URL.
type Asset struct {
	URL  string `json:"url"`
	Hash string `json:"hash"`
}

// Routes registers the endpoints; wrap adds CORS for customer sites.
func (s *Site) Routes(mux httpx.Mux, wrap func(http.Handler) http.Handler) {
	mux.Handle("GET /widget.js", wrap(http.HandlerFunc(s.serveLoader)))
	mux.Handle("GET /v1/widget/config", wrap(http.HandlerFunc(s.serveConfig)))
	// Open to every site, unlike the config: a page the relay refuses
	// still says so in its visitor's language.
	mux.HandleFunc("GET /v1/widget/messages", s.serveMessages)
	mux.HandleFunc("GET /demo", s.serveDemo)
}

// serveLoader serves the loader at its stable URL: cached briefly and
// revalidated by ETag, since host pages cannot change the URL they embed.
func (s *Site) serveLoader(w http.ResponseWriter, r *http.Request) {
	as := s.assets.Get("widget.js")
	if as == nil {
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "widget not built into this relay")
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300, stale-while-revalidate=86400")
	s.assets.Serve(w, r, as)
}

func (s *Site) serveConfig(w http.ResponseWriter, r *http.Request) {
	if !s.origins.Admit(r.Header.Get("Origin"), r.Host) {
		// Readable by the refused page (no credentials, nothing but the
		// refusal in it), so the widget can say why it cannot chat instead
		// of failing with a CORS error only devtools show.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		httpx.Error(w, http.StatusForbidden, protocol.CodeOriginNotAllowed, "this site is not in the relay's allowed sites")
		return
	}
	c := Config{Settings: s.Settings(), Panel: s.assets.URL("panel.js"), Markdown: s.assets.URL("shared/markdown.js"), SSE: "/v1/conversations/{id}/messages"}
	c.Lang = i18n.Builtin().MatchList(r.URL.Query().Get("lang"))
	c.Dir = i18n.Builtin().Catalogue(c.Lang).Dir
	c.Messages = s.assets.URL(i18n.Dir + "/" + c.Lang + ".json")
	if s.opts.Availability != nil {
		c.Availability = s.opts.Availability(c.Lang)
	}
	t := c.Settings.textsIn(c.Lang)
	c.Title, c.Greeting = t.Title, t.Greeting
	if !s.opts.NoSocket {
		ws := "/v1/ws"
		c.WS = &ws
	}
	if h := s.model(); h != "" {
		c.Model = &Asset{URL: "/v1/model/" + h, Hash: h}
		if s.opts.Answers != nil {
			if ah := s.opts.Answers(c.Lang); ah != "" {
				c.Answers = &Asset{URL: "/v1/answers/" + c.Lang + "/" + ah, Hash: ah}
			}
		}
	}
	c.Extra = s.assets.URL("extra.js")
	if s.opts.FileBytes > 0 && c.Extra != "" {
		c.Files = &Files{MaxBytes: s.opts.FileBytes, Accept: FilesAccept}
	}
	switch {
	case s.opts.Wasm != nil:
		c.Wasm = &s.opts.Wasm.Module
		c.WasmExec = s.opts.Wasm.Exec
	case s.assets.URL("wasm/kefu.wasm") != "":
		c.Wasm = &Asset{URL: s.assets.URL("wasm/kefu.wasm"), Hash: s.assets.Get("wasm/kefu.wasm").Hash}
		c.WasmExec = s.assets.URL("wasm/wasm_exec.js")
	}
	httpx.JSON(w, http.StatusOK, c)
}

func (s *Site) serveDemo(w http.ResponseWriter, r *http.Request) {
	as := s.assets.Get("demo.html")
	if as == nil {
		http.NotFound(w, r)
		return
	}
	// The demo is a stand-in for a customer's page under the relay's own
	// policy (a strict CSP the widget must cope with, as on many shops);
	// the admin page's widget preview frames it.
	web.AllowSameOriginFraming(w.Header())
	w.Header().Set("Cache-Control", "no-cache")
	s.assets.Serve(w, r, as)
}
