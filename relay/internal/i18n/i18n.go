// Package i18n holds the visitor-facing message catalogues: one JSON file
// per language in widget/i18n (the widget's own texts under "widget", the
// relay's system messages under "relay"), the choice of a language from a
// visitor's preferences, and the texts in that language with English as
// the fallback for anything missing.
package i18n

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/kefuhq/kefu/widget"
)

// Fallback is the language used when no preference matches, and for any
// key a catalogue lacks.
const Fallback = "en"

// Dir is where the catalogues live inside the widget's files.
const Dir = "i18n"

// Catalogue is one language's file.
type Catalogue struct {
	Lang   string            `json:"lang"` // the file's name without .json, lower case (en, zh, pt)
	Name   string            `json:"name"` // the language's name in itself (Deutsch)
	Dir    string            `json:"dir"`  // ltr or rtl
	Widget map[string]string `json:"widget"`
	Relay  map[string]string `json:"relay"`
}

// Set is every catalogue, by language.
type Set struct {
	byLang map[string]*Catalogue
	langs  []string
}

// Load reads every Dir/*.json of fsys. It fails on a file that is not a
// catalogue (bad JSON, a lang that is not its name, a dir other than ltr
// or rtl) and when there is no English one; a catalogue missing keys is
// valid (English fills in), and the package's tests insist the shipped
// ones are complete.
func Load(fsys fs.FS) (*Set, error) {
	names, err := fs.Glob(fsys, Dir+"/*.json")
	if err != nil {
		return nil, fmt.Errorf("i18n: %w", err)
	}
	s := &Set{byLang: map[string]*Catalogue{}}
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("i18n: %w", err)
		}
		var c Catalogue
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", name, err)
		}
		want := strings.TrimSuffix(path.Base(name), ".json")
		switch {
		case c.Lang != want || !validTag(c.Lang):
			return nil, fmt.Errorf("i18n: %s: \"lang\" is %q; it must be the file's name, a lower-case language tag", name, c.Lang)
		case c.Dir != "ltr" && c.Dir != "rtl":
			return nil, fmt.Errorf("i18n: %s: \"dir\" is %q; want ltr or rtl", name, c.Dir)
		case c.Name == "":
			return nil, fmt.Errorf("i18n: %s: \"name\" is empty", name)
		}
		s.byLang[c.Lang] = &c
		s.langs = append(s.langs, c.Lang)
	}
	if s.byLang[Fallback] == nil {
		return nil, fmt.Errorf("i18n: no %s/%s.json", Dir, Fallback)
	}
	slices.Sort(s.langs)
	return s, nil
}

// validTag accepts what a catalogue may be named: a language and an
// optional region or script, lower case (pt, pt-br, zh-hant).
func validTag(t string) bool {
	if t == "" || len(t) > 12 {
		return false
	}
	for i, part := range strings.Split(t, "-") {
		if len(part) < 2 || len(part) > 8 || (i == 0 && len(part) > 3) {
			return false
		}
		for _, r := range part {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
				return false
			}
		}
	}
	return true
}

// builtin parses the catalogues embedded in the binary once. They are
// constant data, like a compiled regular expression: the package's tests
// load them, so a broken file never reaches a build.
var builtin = sync.OnceValue(func() *Set {
	s, err := Load(widget.FS)
	if err != nil {
		panic(err)
	}
	return s
})

// Builtin returns the catalogues shipped in widget/i18n.
func Builtin() *Set { return builtin() }

// Langs lists the languages, sorted.
func (s *Set) Langs() []string { return slices.Clone(s.langs) }

// Has reports whether lang has a catalogue.
func (s *Set) Has(lang string) bool { return s.byLang[lang] != nil }

// Catalogue returns lang's catalogue, or English's.
func (s *Set) Catalogue(lang string) *Catalogue {
	if c := s.byLang[lang]; c != nil {
		return c
	}
	return s.byLang[Fallback]
}

// Match picks the language for a visitor from their preferences, most
// wanted first (language tags as the widget sends them: the Kefu setting,
// the page's lang, the browser's languages). For each in turn: the exact
// tag, then tags with a subtag less (de-AT → de; zh-Hant-TW → zh-hant →
// zh). None matching: English. A malformed tag is skipped.
func (s *Set) Match(prefs ...string) string {
	for _, p := range prefs {
		t := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(p), "_", "-"))
		for t != "" {
			if s.byLang[t] != nil {
				return t
			}
			i := strings.LastIndexByte(t, '-')
			if i < 0 {
				break
			}
			t = t[:i]
		}
	}
	return Fallback
}

// MatchList is Match over a comma-separated list ("de-AT,de,en"), as the
// widget sends it; at most 10 entries are read.
func (s *Set) MatchList(list string) string {
	prefs := strings.SplitN(list, ",", 11)
	if len(prefs) > 10 {
		prefs = prefs[:10]
	}
	return s.Match(prefs...)
}

// Relay returns the relay's text key in lang (English when lang or the key
// is missing), with each {name} in it replaced by the value after name in
// vars: Relay("de", "joined", "name", "Anna").
func (s *Set) Relay(lang, key string, vars ...string) string {
	return fill(s.text(lang, key, func(c *Catalogue) map[string]string { return c.Relay }), vars)
}

// Widget returns the widget's text key in lang, as Relay does.
func (s *Set) Widget(lang, key string, vars ...string) string {
	return fill(s.text(lang, key, func(c *Catalogue) map[string]string { return c.Widget }), vars)
}

func (s *Set) text(lang, key string, part func(*Catalogue) map[string]string) string {
	if c := s.byLang[lang]; c != nil {
		if t, ok := part(c)[key]; ok && t != "" {
			return t
		}
	}
	return part(s.byLang[Fallback])[key]
}

// Fill replaces each {name} in t by the value after name in vars, as
// Relay does (for texts from elsewhere: an admin's own wording).
func Fill(t string, vars []string) string { return fill(t, vars) }

// fill replaces the placeholders in one pass, so a value that itself
// contains "{text}" (a visitor's name) stays as written.
func fill(t string, vars []string) string {
	if len(vars) < 2 {
		return t
	}
	pairs := make([]string, 0, len(vars)&^1)
	for i := 0; i+1 < len(vars); i += 2 {
		pairs = append(pairs, "{"+vars[i]+"}", vars[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(t)
}
