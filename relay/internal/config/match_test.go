package config

import (
	"regexp"
	"testing"
)

// The expressions the hand-written checks stand for (nodeName says why
// they are not used): the tests hold each check to its expression.
var (
	nodeNameRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`)
	prefixRE        = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)
	frameAncestorRE = regexp.MustCompile(`^https?://(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$`)
)

var matchSeeds = []string{
	"", "a", "A", "0", "_", "-", "node-1", "Node_2", "-node", "n.1", "ü", "n\n",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",  // 63
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", // 64
	"kefu", "kefu_2", "KEFU", "abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz0123456",
	"https://backoffice.example.com", "https://*.example.com", "http://localhost:8080", "https://a", "https://a:",
	"https://a:123456", "https://a:12345", "https://a.", "https://-a", "https://a-", "https://*.", "https://*.*.a",
	"ftp://a", "https:/a", "https://a/", "https://a:80x", "https://a b", "https://A.example.com", "https://a..b",
	"https://a:8:8", "http://*.a:1", "https://a;script-src", "https://a\n",
}

func FuzzMatchersAgreeWithRegexp(f *testing.F) {
	for _, s := range matchSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := nodeName(s), nodeNameRE.MatchString(s); got != want {
			t.Errorf("nodeName(%q) = %v, the expression says %v", s, got, want)
		}
		if got, want := streamPrefix(s), prefixRE.MatchString(s); got != want {
			t.Errorf("streamPrefix(%q) = %v, the expression says %v", s, got, want)
		}
		if got, want := frameAncestor(s), frameAncestorRE.MatchString(s); got != want {
			t.Errorf("frameAncestor(%q) = %v, the expression says %v", s, got, want)
		}
	})
}
