package i18n

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// The languages the widget must speak (issue 18); more may be added.
var required = []string{"ar", "de", "en", "es", "fr", "ja", "ko", "pt", "zh"}

func TestBuiltinHasTheRequiredLanguages(t *testing.T) {
	s := Builtin()
	for _, l := range required {
		if !s.Has(l) {
			t.Errorf("no catalogue for %s (have %v)", l, s.Langs())
		}
	}
	if got := s.Catalogue("ar").Dir; got != "rtl" {
		t.Errorf("ar dir = %q, want rtl", got)
	}
	for _, l := range s.Langs() {
		if l != "ar" && s.Catalogue(l).Dir != "ltr" {
			t.Errorf("%s dir = %q, want ltr", l, s.Catalogue(l).Dir)
		}
	}
}

var placeholder = regexp.MustCompile(`\{[a-z]+\}`)

// Every shipped catalogue has exactly English's keys, no empty text, and
// the same placeholders in each text.
func TestBuiltinCataloguesAreComplete(t *testing.T) {
	s := Builtin()
	en := s.Catalogue(Fallback)
	for _, l := range s.Langs() {
		c := s.Catalogue(l)
		for _, part := range []struct {
			name     string
			got, ref map[string]string
		}{{"widget", c.Widget, en.Widget}, {"relay", c.Relay, en.Relay}} {
			for k, ref := range part.ref {
				got, ok := part.got[k]
				switch {
				case !ok:
					t.Errorf("%s.json: %s.%s missing", l, part.name, k)
				case strings.TrimSpace(got) == "":
					t.Errorf("%s.json: %s.%s is empty", l, part.name, k)
				case !slices.Equal(holes(got), holes(ref)):
					t.Errorf("%s.json: %s.%s has placeholders %v, English has %v", l, part.name, k, holes(got), holes(ref))
				}
			}
			for k := range part.got {
				if _, ok := part.ref[k]; !ok {
					t.Errorf("%s.json: %s.%s is not in en.json (a typo, or add it there first)", l, part.name, k)
				}
			}
		}
	}
}

func holes(s string) []string {
	h := placeholder.FindAllString(s, -1)
	slices.Sort(h)
	return slices.Compact(h)
}

// Every text the widget's code asks for is in English's catalogue: T.key,
// and the keys given to say, sayLabel, setMeta and bubble (a status line)
// in panel.js. A renamed key fails here, not in a visitor's browser.
func TestWidgetUsesOnlyKnownKeys(t *testing.T) {
	en := Builtin().Catalogue(Fallback).Widget
	uses := regexp.MustCompile(`\bT\.([A-Za-z]+)\b|\b(?:say|sayLabel|setMeta|bubble)\([^;()]*?, '([A-Za-z ]+)'`)
	n := 0
	for _, file := range []string{"../../../widget/panel.js", "../../../widget/widget.js"} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range uses.FindAllStringSubmatch(string(src), -1) {
			for _, k := range strings.Fields(m[1] + " " + m[2]) {
				n++
				if _, ok := en[k]; !ok {
					t.Errorf("%s uses the text %q, which en.json does not have", file, k)
				}
			}
		}
	}
	if n < 15 {
		t.Errorf("found only %d uses of texts: has the way widget code names them changed? Update this test", n)
	}
}

func TestMatch(t *testing.T) {
	s := Builtin()
	tests := []struct {
		name  string
		prefs []string
		want  string
	}{
		{"exact", []string{"de"}, "de"},
		{"region dropped", []string{"de-AT"}, "de"},
		{"case and underscore", []string{"PT_br"}, "pt"},
		{"script and region", []string{"zh-Hant-TW"}, "zh"},
		{"first that matches wins", []string{"xx", "fr-CA", "de"}, "fr"},
		{"order is the caller's", []string{"ja", "en"}, "ja"},
		{"nothing matches", []string{"xx-YY", "tlh"}, "en"},
		{"none given", nil, "en"},
		{"blank and junk skipped", []string{" ", "-", "ar-EG"}, "ar"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Match(tt.prefs...); got != tt.want {
				t.Errorf("Match(%q) = %q, want %q", tt.prefs, got, tt.want)
			}
		})
	}
	if got := s.MatchList("xx,ko-KR,en"); got != "ko" {
		t.Errorf("MatchList = %q, want ko", got)
	}
	if got := s.MatchList(strings.Repeat("xx,", 10) + "de"); got != "en" {
		t.Errorf("MatchList reads past 10 entries: got %q", got)
	}
}

func TestTexts(t *testing.T) {
	s := Builtin()
	if got, want := s.Relay("de", "joined", "name", "Anna"), "Anna ist dem Chat beigetreten."; got != want {
		t.Errorf("Relay(de, joined) = %q, want %q", got, want)
	}
	if got, want := s.Relay("tlh", "joined", "name", "Anna"), "Anna joined the chat."; got != want {
		t.Errorf("unknown language: %q, want English %q", got, want)
	}
	// One pass: a name that looks like a placeholder stays as written.
	if got, want := s.Widget("en", "said", "name", "{text}", "text", "hi"), "{text}: hi"; got != want {
		t.Errorf("Widget(said) = %q, want %q", got, want)
	}
	if got := s.Relay("en", "no such key"); got != "" {
		t.Errorf("missing key: %q, want empty", got)
	}
}

func TestPartialCatalogueFallsBackToEnglish(t *testing.T) {
	fsys := fstest.MapFS{
		"i18n/en.json": {Data: []byte(`{"lang":"en","name":"English","dir":"ltr","widget":{"send":"Send","open":"Open"},"relay":{}}`)},
		"i18n/xx.json": {Data: []byte(`{"lang":"xx","name":"Xx","dir":"ltr","widget":{"send":"Sendx"}}`)},
	}
	s, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Widget("xx", "open"); got != "Open" {
		t.Errorf("missing key: %q, want English", got)
	}
	if got := s.Widget("xx", "send"); got != "Sendx" {
		t.Errorf("present key: %q", got)
	}
	if got := s.Langs(); !slices.Equal(got, []string{"en", "xx"}) {
		t.Errorf("Langs = %v", got)
	}
}

func TestLoadRefusesBadFiles(t *testing.T) {
	en := `{"lang":"en","name":"English","dir":"ltr","widget":{},"relay":{}}`
	tests := map[string]struct {
		files map[string]string
		want  string
	}{
		"no English":           {map[string]string{"de.json": `{"lang":"de","name":"Deutsch","dir":"ltr"}`}, "no i18n/en.json"},
		"bad JSON":             {map[string]string{"en.json": en, "de.json": `{"lang":`}, "de.json"},
		"lang is not the name": {map[string]string{"en.json": en, "de.json": `{"lang":"fr","name":"x","dir":"ltr"}`}, `"lang" is "fr"`},
		"upper case name":      {map[string]string{"en.json": en, "DE.json": `{"lang":"DE","name":"x","dir":"ltr"}`}, `"lang" is "DE"`},
		"bad dir":              {map[string]string{"en.json": en, "he.json": `{"lang":"he","name":"x","dir":"right"}`}, `"dir" is "right"`},
		"no name":              {map[string]string{"en.json": en, "he.json": `{"lang":"he","dir":"rtl"}`}, `"name" is empty`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for n, d := range tt.files {
				fsys["i18n/"+n] = &fstest.MapFile{Data: []byte(d)}
			}
			_, err := Load(fsys)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load: %v, want an error with %q (files %v)", err, tt.want, slices.Sorted(maps.Keys(tt.files)))
			}
		})
	}
}
