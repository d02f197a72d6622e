package site

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/origin"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/web"
	"github.com/kefuhq/kefu/widget"
)

// saved is a store holding one widget settings document.
type saved struct {
	noSettings
	set Settings
}

func (s saved) Setting(_ string, v any) (bool, error) {
	*(v.(*Settings)) = s.set
	return true, nil
}

func config(t *testing.T, set *Settings, query string) Config {
	t.Helper()
	assets, err := web.LoadAssets(widget.FS)
	if err != nil {
		t.Fatal(err)
	}
	var st store.Settings = noSettings{}
	if set != nil {
		st = saved{set: *set}
	}
	s, err := New(assets, st, origin.NewPolicy(nil), func() string { return "" }, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Routes(mux, func(h http.Handler) http.Handler { return h })
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/widget/config"+query, nil))
	var c Config
	if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil {
		t.Fatalf("config %q: %v", rec.Body, err)
	}
	// The catalogue it names is served.
	rec = httptest.NewRecorder()
	req := httptest.NewRequest("GET", c.Messages, nil)
	hash, name, _ := strings.Cut(strings.TrimPrefix(c.Messages, "/assets/"), "/")
	req.SetPathValue("hash", hash)
	req.SetPathValue("name", name)
	assets.ServeHashed(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"lang": "`+c.Lang+`"`) {
		t.Fatalf("GET %s: %d %.80q", c.Messages, rec.Code, rec.Body)
	}
	return c
}

func TestConfigSpeaksTheVisitorsLanguage(t *testing.T) {
	custom := DefaultSettings()
	custom.Title = "Lantern & Loom"
	custom.Translations = map[string]Texts{"fr": {Title: "Lanterne", Greeting: "Bonjour de la boutique"}, "de": {Greeting: "Hallo aus dem Laden"}}
	tests := []struct {
		name         string
		set          *Settings
		query        string
		lang, dir    string
		title, greet string
	}{
		{"no preference", nil, "", "en", "ltr", "Chat with us", "Hi! Ask us anything — we usually answer in seconds."},
		{"defaults in the visitor's language", nil, "?lang=de-AT,en", "de", "ltr", "Schreiben Sie uns", "Hallo! Fragen Sie uns gern – wir antworten meist in Sekunden."},
		{"right to left", nil, "?lang=ar-EG", "ar", "rtl", "تحدّث معنا", "مرحبًا! اسألنا عن أي شيء، فنحن نجيب عادةً خلال ثوانٍ."},
		{"unknown language", nil, "?lang=tlh", "en", "ltr", "Chat with us", "Hi! Ask us anything — we usually answer in seconds."},
		{"the shop's translation", &custom, "?lang=fr", "fr", "ltr", "Lanterne", "Bonjour de la boutique"},
		{"the shop's own title when not translated", &custom, "?lang=de", "de", "ltr", "Lantern & Loom", "Hallo aus dem Laden"},
		{"untranslated, unedited greeting", &custom, "?lang=es", "es", "ltr", "Lantern & Loom", "¡Hola! Pregúntanos lo que quieras: solemos responder en segundos."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config(t, tt.set, tt.query)
			if c.Lang != tt.lang || c.Dir != tt.dir || c.Title != tt.title || c.Greeting != tt.greet {
				t.Errorf("got lang %q dir %q title %q greeting %q\nwant lang %q dir %q title %q greeting %q", c.Lang, c.Dir, c.Title, c.Greeting, tt.lang, tt.dir, tt.title, tt.greet)
			}
			if c.Translations != nil {
				t.Errorf("config shows the translations to sites: %v", c.Translations)
			}
		})
	}
}

func TestTranslationsValidated(t *testing.T) {
	tests := []struct {
		name string
		tr   map[string]Texts
		want string
	}{
		{"unknown language", map[string]Texts{"tlh": {Title: "x"}}, `no language "tlh"`},
		{"long title", map[string]Texts{"de": {Title: strings.Repeat("x", 61)}}, "translations.de.title"},
		{"long greeting", map[string]Texts{"ja": {Greeting: strings.Repeat("あ", 501)}}, "translations.ja.greeting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := DefaultSettings()
			set.Translations = tt.tr
			err := set.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate: %v, want %q", err, tt.want)
			}
		})
	}
	ok := DefaultSettings()
	ok.Translations = map[string]Texts{"de": {Title: "Hallo"}, "en": {Greeting: "Hello"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid translations refused: %v", err)
	}
}

// A page the relay refuses has no config, yet must say so in its
// visitor's language: the catalogue alone is open to every site.
func TestMessagesForAnySite(t *testing.T) {
	assets, err := web.LoadAssets(widget.FS)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(assets, noSettings{}, origin.NewPolicy([]string{"shop.example.com"}), func() string { return "" }, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Routes(mux, func(h http.Handler) http.Handler { return h })
	for query, want := range map[string]string{"?lang=ko-KR,en": "ko", "": "en", "?lang=tlh": "en"} {
		req := httptest.NewRequest("GET", "/v1/widget/messages"+query, nil)
		req.Header.Set("Origin", "https://elsewhere.example")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		var c struct {
			Lang   string            `json:"lang"`
			Widget map[string]string `json:"widget"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil || rec.Code != 200 {
			t.Fatalf("%s: %d %.80q", query, rec.Code, rec.Body)
		}
		if c.Lang != want || c.Widget["notAllowed"] == "" || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: lang %q, notAllowed %q, CORS %q", query, c.Lang, c.Widget["notAllowed"], rec.Header().Get("Access-Control-Allow-Origin"))
		}
	}
}
