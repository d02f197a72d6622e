package store

import (
	"errors"
	"strings"
	"testing"
)

func TestNormaliseTag(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"VIP", "vip"},
		{"  needs   follow up ", "needs-follow-up"},
		{"bug_report", "bug_report"},
		{"退款", "退款"},
		{"Größe", "größe"},
		{"", ""},
		{"   ", ""},
		{"a,b", ""},
		{"<script>", ""},
		{strings.Repeat("x", MaxTagRunes), strings.Repeat("x", MaxTagRunes)},
		{strings.Repeat("x", MaxTagRunes+1), ""},
	} {
		got, err := NormaliseTag(tc.in)
		if tc.want == "" {
			if !errors.Is(err, ErrBadTag) {
				t.Errorf("NormaliseTag(%q) = %q, %v; want ErrBadTag", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormaliseTag(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
