package admin_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/origin"
	"github.com/kefuhq/kefu/relay/internal/site"
	"github.com/kefuhq/kefu/relay/protocol"
)

type widgetView struct {
	Settings  site.Settings    `json:"settings"`
	RelayURL  string           `json:"relay_url"`
	Embed     string           `json:"embed"`
	Refused   []origin.Refusal `json:"refused_sites"`
	Relay     []string         `json:"relay_sites"`
	Languages []site.Language  `json:"languages"`
}

func TestWidgetSettings(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	var v widgetView
	admin.must(200, "GET", "/v1/admin/widget", nil).decode(&v)
	if d := site.DefaultSettings(); v.Settings.Title != d.Title || v.Settings.Color != d.Color || v.Settings.ZIndex != d.ZIndex || v.Settings.AllowedSites == nil {
		t.Errorf("defaults %+v", v.Settings)
	}
	if want := `<script src="` + r.URL + `/widget.js" async></script>`; v.Embed != want || v.RelayURL != r.URL {
		t.Errorf("embed %q, want %q", v.Embed, want)
	}

	if len(v.Languages) < 9 || v.Languages[0].Name == "" || v.Languages[0].Title == "" {
		t.Errorf("languages %+v", v.Languages)
	}

	set := v.Settings
	set.Title, set.Greeting, set.Color, set.Position = "Ask Lantern & Loom", "Hello <b>there</b>", "#0f766e", "left"
	set.Translations = map[string]site.Texts{"de": {Greeting: "Hallo!"}}
	set.AllowedSites = []string{" shop.example.com ", "", "*.example.org"}
	admin.must(200, "PUT", "/v1/admin/widget", set).decode(&v)
	if v.Settings.Title != "Ask Lantern & Loom" || len(v.Settings.AllowedSites) != 2 || v.Settings.AllowedSites[0] != "shop.example.com" {
		t.Errorf("saved %+v", v.Settings)
	}

	// Customer pages get the new look at their next config fetch, and the
	// allowed sites apply at once.
	resp, err := http.Get(r.URL + "/v1/widget/config")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	if cfg["title"] != "Ask Lantern & Loom" || cfg["color"] != "#0f766e" || cfg["position"] != "left" || cfg["allowed_sites"] != nil || cfg["translations"] != nil {
		t.Errorf("widget config %v", cfg)
	}
	resp, err = http.Get(r.URL + "/v1/widget/config?lang=de-CH")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	if cfg["lang"] != "de" || cfg["greeting"] != "Hallo!" || cfg["title"] != "Ask Lantern & Loom" {
		t.Errorf("widget config in German %v", cfg)
	}
	for origin, want := range map[string]bool{"https://shop.example.com": true, "https://a.example.org": true, "https://evil.example": false} {
		req, _ := http.NewRequest("GET", r.URL+"/v1/widget/config", nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin") == origin; got != want {
			t.Errorf("%s allowed: %v, want %v", origin, got, want)
		}
	}

	bad := func(mut func(*site.Settings)) site.Settings { s := v.Settings; mut(&s); return s }
	tests := []struct {
		name string
		body any
		code protocol.Code
	}{
		{"colour name", bad(func(s *site.Settings) { s.Color = "red" }), protocol.CodeBadField},
		{"colour with CSS", bad(func(s *site.Settings) { s.Color = "#fff;background:url(x)" }), protocol.CodeBadField},
		{"position", bad(func(s *site.Settings) { s.Position = "top" }), protocol.CodeBadField},
		{"empty title", bad(func(s *site.Settings) { s.Title = " " }), protocol.CodeBadField},
		{"site with a comma", bad(func(s *site.Settings) { s.AllowedSites = []string{"a.com,b.com"} }), protocol.CodeBadField},
		{"unknown language", bad(func(s *site.Settings) { s.Translations = map[string]site.Texts{"xx": {Title: "x"}} }), protocol.CodeBadField},
		{"unknown field", `{"title":"x","theme":"dark"}`, protocol.CodeUnknownField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admin.t = t
			if res := admin.do("PUT", "/v1/admin/widget", tt.body); res.status != 400 || res.code() != string(tt.code) {
				t.Errorf("got %d %s, want 400 %s", res.status, res.body, tt.code)
			}
		})
	}
	admin.t = t
	var after widgetView
	admin.must(200, "GET", "/v1/admin/widget", nil).decode(&after)
	if after.Settings.Color != "#0f766e" {
		t.Errorf("a refused PUT changed the settings: %+v", after.Settings)
	}
}

// TestRefusedSites: a page on a site missing from the allowed sites gets a
// refusal it can read (the widget shows a message), and the admin page
// names the site until it is allowed.
func TestRefusedSites(t *testing.T) {
	r, _ := start(t, func(c *config.Config) { c.AllowedOrigins = []string{"*.example.com"} })
	admin := signIn(t, r, "admin", adminPassword)
	var v widgetView
	admin.must(200, "GET", "/v1/admin/widget", nil).decode(&v)
	if v.Refused == nil || len(v.Refused) != 0 {
		t.Fatalf("refused_sites %v, want []", v.Refused)
	}
	if len(v.Relay) != 1 || v.Relay[0] != "*.example.com" {
		t.Fatalf("relay_sites %v, want the flag's [*.example.com]", v.Relay)
	}
	set := v.Settings
	set.AllowedSites = []string{"shop.example.com"}
	admin.must(200, "PUT", "/v1/admin/widget", set)

	config := func(origin string) (int, string, string) {
		req, _ := http.NewRequest("GET", r.URL+"/v1/widget/config", nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), body.Error.Code
	}
	if status, acao, code := config("https://blog.example.com"); status != 403 || acao != "*" || code != string(protocol.CodeOriginNotAllowed) {
		t.Errorf("refused site: %d ACAO %q code %q, want 403, *, %s", status, acao, code, protocol.CodeOriginNotAllowed)
	}
	config("https://blog.example.com")
	if status, acao, _ := config("https://shop.example.com"); status != 200 || acao != "https://shop.example.com" {
		t.Errorf("allowed site: %d ACAO %q", status, acao)
	}
	// The visitor socket and API refuse and remember the same way.
	req, _ := http.NewRequest("POST", r.URL+"/v1/conversations", strings.NewReader(`{}`))
	req.Header.Set("Origin", "https://other.example.net")
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("visitor API from a refused site: %v %v", resp, err)
	}

	admin.must(200, "GET", "/v1/admin/widget", nil).decode(&v)
	if len(v.Refused) != 2 || v.Refused[0].Origin != "https://other.example.net" || v.Refused[1].Origin != "https://blog.example.com" || v.Refused[1].Count != 2 {
		t.Fatalf("refused_sites %+v, want other.example.net, then blog.example.com ×2", v.Refused)
	}
	// Allowing the site takes it off the list.
	set.AllowedSites = append(set.AllowedSites, "blog.example.com")
	admin.must(200, "PUT", "/v1/admin/widget", set).decode(&v)
	if len(v.Refused) != 1 || v.Refused[0].Origin != "https://other.example.net" {
		t.Errorf("after allowing blog.example.com: %+v", v.Refused)
	}
}
