package site

import (
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/i18n"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Texts are the widget texts a business writes, in one language. An empty
// one falls back to Settings' own.
type Texts struct {
	Title    string `json:"title,omitempty"`
	Greeting string `json:"greeting,omitempty"`
}

// Language names a catalogue the widget can speak, for the admin page,
// with the title and greeting it shows when the business wrote none.
type Language struct {
	Lang     string `json:"lang"`
	Name     string `json:"name"`
	Dir      string `json:"dir"`
	Title    string `json:"title"`
	Greeting string `json:"greeting"`
}

// Languages lists the widget's languages (widget/i18n).
func Languages() []Language {
	set := i18n.Builtin()
	var out []Language
	for _, l := range set.Langs() {
		c := set.Catalogue(l)
		out = append(out, Language{Lang: c.Lang, Name: c.Name, Dir: c.Dir, Title: set.Widget(l, "title"), Greeting: set.Widget(l, "greeting")})
	}
	return out
}

func validateTranslations(tr map[string]Texts) error {
	set := i18n.Builtin()
	for lang, t := range tr {
		switch {
		case !set.Has(lang):
			return protocol.Errorf(protocol.CodeBadField, fmt.Sprintf("translations: the widget has no language %q (it has %s)", lang, strings.Join(set.Langs(), ", ")))
		case utf8.RuneCountInString(t.Title) > 60:
			return protocol.Errorf(protocol.CodeBadField, "translations."+lang+".title must be at most 60 characters")
		case utf8.RuneCountInString(t.Greeting) > 500:
			return protocol.Errorf(protocol.CodeBadField, "translations."+lang+".greeting must be at most 500 characters")
		}
	}
	return nil
}

// textsIn are the title and greeting a widget speaking lang shows: the
// business's translation, else its own text — except that the built-in
// English defaults, never edited, become the catalogue's own defaults in
// lang, so a shop that wrote nothing greets a German visitor in German.
func (s Settings) textsIn(lang string) Texts {
	set := i18n.Builtin()
	pick := func(translated, own, key string) string {
		switch {
		case translated != "":
			return translated
		case own == set.Widget(i18n.Fallback, key):
			return set.Widget(lang, key)
		}
		return own
	}
	t := s.Translations[lang]
	return Texts{Title: pick(t.Title, s.Title, "title"), Greeting: pick(t.Greeting, s.Greeting, "greeting")}
}

// serveMessages is GET /v1/widget/messages?lang=…: the catalogue the
// config would name, for a widget that has no config (its site is not
// allowed). Public texts, so any page may read them.
func (s *Site) serveMessages(w http.ResponseWriter, r *http.Request) {
	as := s.assets.Get(i18n.Dir + "/" + i18n.Builtin().MatchList(r.URL.Query().Get("lang")) + ".json")
	if as == nil {
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "widget not built into this relay")
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "public, max-age=300")
	s.assets.Serve(w, r, as)
}
