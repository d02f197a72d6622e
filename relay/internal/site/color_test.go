package site

import (
	"regexp"
	"testing"
)

// hexColor stands for this expression (it says why); the test holds it to it.
var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

func FuzzHexColorAgreesWithRegexp(f *testing.F) {
	for _, s := range []string{"", "#", "#2563eb", "#2563EB", "#2563e", "#2563ebb", "2563eb", "#2563eg", "#\x102563e", "#\x11\x12\x13\x14\x15\x16", "#abcdef\n", "#ABCDEF", "#ＡBCDEF"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := hexColor(s), colorRE.MatchString(s); got != want {
			t.Errorf("hexColor(%q) = %v, the expression says %v", s, got, want)
		}
	})
}
