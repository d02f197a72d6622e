//go:build !kefu_widget

package router

import (
	"slices"
	"strings"
	"testing"
)

func TestTerms(t *testing.T) {
	for _, tc := range []struct {
		text  string
		limit int
		want  []string
	}{
		{"Where's my REFUND?", 0, []string{"wheres", "my", "refund"}},
		{"Café ＡＢＣ order #1234", 0, []string{"cafe", "abc", "order", "1234"}},
		{"退款問題", 0, []string{"退", "款", "退款", "问", "款问", "题", "问题"}},
		{"iPhone手机", 0, []string{"iphone", "手", "机", "手机"}},
		{"one two three", 7, []string{"one", "two"}},
		{"", 0, nil},
	} {
		var got []string
		Terms(tc.text, tc.limit, func(s string) { got = append(got, s) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("Terms(%q, %d) = %q, want %q", tc.text, tc.limit, got, tc.want)
		}
	}
}

func TestTermsNoLimitPastIntentCap(t *testing.T) {
	text := strings.Repeat("a ", maxInputRunes) + "needle"
	found := false
	Terms(text, 0, func(s string) { found = found || s == "needle" })
	if !found {
		t.Fatal("a word past the intent model's cap was not a term")
	}
}
