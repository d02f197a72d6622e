package admin_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/site"
	"github.com/kefuhq/kefu/relay/protocol"
)

type widgetView struct {
	Settings site.Settings `json:"settings"`
	RelayURL string        `json:"relay_url"`
	Embed    string        `json:"embed"`
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

	set := v.Settings
	set.Title, set.Greeting, set.Color, set.Position = "Ask Lantern & Loom", "Hello <b>there</b>", "#0f766e", "left"
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
	if cfg["title"] != "Ask Lantern & Loom" || cfg["color"] != "#0f766e" || cfg["position"] != "left" || cfg["allowed_sites"] != nil {
		t.Errorf("widget config %v", cfg)
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
