package visitctx

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzClean: whatever a page sends, what is kept is within its caps,
// valid UTF-8, an http(s) address without query or fragment, and a title
// without control characters.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"https://a.example/p?q=1#f", "http://u:p@[::1]:8/%zz", "javascript:alert(1)", "Tab\tTitle\x00", "https://a.example/" + strings.Repeat("%C3%A9", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if u := CleanURL(s); u != "" {
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.RawQuery != "" || p.Fragment != "" || p.User != nil || len(u) > MaxURL || !utf8.ValidString(u) {
				t.Fatalf("CleanURL(%q) = %q", s, u)
			}
		}
		ti := CleanTitle(s)
		if len(ti) > MaxTitle || !utf8.ValidString(ti) || strings.ContainsFunc(ti, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("CleanTitle(%q) = %q", s, ti)
		}
		b, o := Browser(s)
		if len(b) > 40 || len(o) > 20 {
			t.Fatalf("Browser(%q) = %q, %q", s, b, o)
		}
	})
}
