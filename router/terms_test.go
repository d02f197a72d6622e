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

// TermSpans gives Terms' terms, in order, each with a range of the text
// that is that term again.
func TestTermSpans(t *testing.T) {
	for _, text := range []string{
		"Where's my REFUND?", "Café ＡＢＣ order #1234", "退款問題", "iPhone手机", "cafe\u0301 crème", "don’t stop", "a\xffb 退\xff款",
		"  spaced\tout\nlines  ", "Ｈｅｌｌｏ　世界", "",
	} {
		checkSpans(t, text)
	}
	var got []string
	TermSpans("Where's my REFUND? 退款", 0, func(term string, s, e int) { got = append(got, term+"="+"Where's my REFUND? 退款"[s:e]) })
	want := []string{"wheres=Where's", "my=my", "refund=REFUND", "退=退", "款=款", "退款=退款"}
	if !slices.Equal(got, want) {
		t.Errorf("spans %q, want %q", got, want)
	}
}

func checkSpans(t *testing.T, text string) {
	t.Helper()
	var want []string
	Terms(text, 0, func(s string) { want = append(want, s) })
	var got []string
	TermSpans(text, 0, func(term string, s, e int) {
		got = append(got, term)
		if s < 0 || e > len(text) || s >= e {
			t.Fatalf("%q: term %q at [%d,%d)", text, term, s, e)
		}
		var again []string
		Terms(text[s:e], 0, func(x string) { again = append(again, x) })
		if !slices.Contains(again, term) {
			t.Errorf("%q: term %q at [%d,%d) = %q, whose terms are %q", text, term, s, e, text[s:e], again)
		}
	})
	if !slices.Equal(got, want) {
		t.Errorf("TermSpans(%q) terms %q, Terms %q", text, got, want)
	}
}

func FuzzTermSpans(f *testing.F) {
	for _, s := range []string{"Where's my REFUND?", "退款問題 iPhone手机", "cafe\u0301", "a\xffb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) { checkSpans(t, text) })
}
