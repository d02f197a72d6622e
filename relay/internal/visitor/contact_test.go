package visitor

import (
	"net/mail"
	"strings"
	"testing"
)

// checkEmailNetMail is CheckEmail as it was, on net/mail's ParseAddress:
// the spec CheckEmail is held to.
func checkEmailNetMail(s string) (string, bool) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || len(s) > maxEmail {
		return "", false
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || !strings.Contains(s[at+1:], ".") || strings.ContainsAny(s, "\r\n<>\"") {
		return "", false
	}
	return s, true
}

var emailCases = []struct {
	in, want string // want "": refused
}{
	{"ann@example.com", "ann@example.com"},
	{"  ann@example.com\n", "ann@example.com"},
	{"ann.lee+shop@mail.example.co.uk", "ann.lee+shop@mail.example.co.uk"},
	{"o'neil@example.ie", "o'neil@example.ie"},
	{"{x}|~!#$%&*/=?^_`-@example.com", "{x}|~!#$%&*/=?^_`-@example.com"},
	{"josé@bücher.de", "josé@bücher.de"},
	{"用户@例子.广告", "用户@例子.广告"},
	{"a@b.c", "a@b.c"},
	{"ann@" + strings.Repeat("a", 246) + ".com", "ann@" + strings.Repeat("a", 246) + ".com"}, // 254 bytes
	{"ann@" + strings.Repeat("a", 247) + ".com", ""},                                         // 255
	{"", ""},
	{"ann", ""},
	{"@example.com", ""},
	{"ann@", ""},
	{"ann@example", ""},
	{"Ann <ann@example.com>", ""},
	{"<ann@example.com>", ""},
	{`"ann lee"@example.com`, ""},
	{`"ann"@example.com`, ""},
	{"ann@[192.0.2.1]", ""}, // net/mail takes it; the product does not
	{"ann@[::ffff:192.0.2.1]", ""},
	{"ann@example.com (Ann)", ""},
	{"ann@example.com()", ""},
	{"(Ann) ann@example.com", ""},
	{"ann@@example.com", ""},
	{"ann@lee@example.com", ""},
	{".ann@example.com", ""},
	{"ann.@example.com", ""},
	{"ann..lee@example.com", ""},
	{"ann@.example.com", ""},
	{"ann@example..com", ""},
	{"ann@example.com.", ""},
	{"ann@example.com, bob@example.com", ""},
	{"team: ann@example.com;", ""},
	{"ann@exa mple.com", ""},
	{"ann @example.com", ""},
	{"ann@ example.com", ""},
	{"ann\t@example.com", ""},
	{"ann@example.com\r\nBcc: eve@example.com", ""},
	{"ann\x00@example.com", ""},
	{"ann\x7f@example.com", ""},
	{"ann\xff@example.com", ""},         // not UTF-8
	{"ann\xed\xa0\x80@example.com", ""}, // a surrogate, not UTF-8
	{"ann\\@example.com", ""},
	{"ann@exam_ple.com", "ann@exam_ple.com"}, // atext, as net/mail has it
}

func TestCheckEmail(t *testing.T) {
	for _, tc := range emailCases {
		got, err := CheckEmail(tc.in)
		if tc.want == "" {
			if err == nil || !strings.Contains(err.Error(), "email must be one address like ann@example.com") {
				t.Errorf("CheckEmail(%q) = %q, %v; want the bad_field error", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("CheckEmail(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzCheckEmail holds CheckEmail to net/mail: what it takes, ParseAddress
// takes as the same bare address, and it takes exactly what the relay took
// with ParseAddress but IP literals (ann@[192.0.2.1]).
func FuzzCheckEmail(f *testing.F) {
	for _, tc := range emailCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := CheckEmail(s)
		if err == nil {
			a, perr := mail.ParseAddress(got)
			if perr != nil || a.Name != "" || a.Address != got {
				t.Fatalf("CheckEmail(%q) took %q; net/mail: %+v, %v", s, got, a, perr)
			}
		}
		want, ok := checkEmailNetMail(s)
		if ok && strings.HasPrefix(want[strings.LastIndexByte(want, '@')+1:], "[") {
			ok = false // an IP literal: refused on purpose
		}
		if (err == nil) != ok || got != want && ok {
			t.Fatalf("CheckEmail(%q) = %q, %v; as net/mail had it: %q, %v", s, got, err, want, ok)
		}
	})
}
