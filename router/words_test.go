package router

import (
	"slices"
	"strings"
	"testing"
	"unicode"
)

// wordsRef is wordsUpTo as it was written before its ASCII path: every
// rune folded and classified by the tables, a strings.Builder per word.
// The two must split every text the same way (the client's model and the
// relay's search index depend on it).
func wordsRef(text string, limit int) []word {
	var out []word
	var b strings.Builder
	curCJK, curDigits := false, true
	flush := func() {
		if b.Len() > 0 {
			out = append(out, word{text: b.String(), cjk: curCJK, digits: curDigits})
			b.Reset()
		}
		curDigits = true
	}
	seen := 0
	for _, r := range text {
		if seen++; seen > limit {
			break
		}
		r = fold(r)
		switch {
		case r == '\'' || r == '’':
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			c := isCJK(r)
			if b.Len() > 0 && c != curCJK {
				flush()
			}
			curCJK = c
			if !unicode.IsDigit(r) {
				curDigits = false
			}
			b.WriteRune(r)
		case unicode.Is(unicode.Mn, r) && b.Len() > 0:
			continue
		default:
			flush()
		}
	}
	flush()
	return out
}

var wordSeeds = []string{
	"Where's my REFUND? Order #12345 - don't ship!", "退款問題 iPhone手机", "cafe\u0301 Ａｂｃ１２", "a\xffb",
	"ABC123def 0 9 Z a", "mixed日本語text123ＡＢＣ", "l’été à Paris", "tab\tnew\nline\r", "",
}

func FuzzWordsASCII(f *testing.F) {
	for _, s := range wordSeeds {
		f.Add(s, 100)
	}
	f.Fuzz(func(t *testing.T, text string, limit int) {
		if limit < 0 {
			limit = -limit
		}
		if got, want := wordsUpTo(text, limit), wordsRef(text, limit); !slices.Equal(got, want) {
			t.Fatalf("wordsUpTo(%q, %d) = %+v, want %+v", text, limit, got, want)
		}
	})
}

// BenchmarkTerms is the search index's tokenizing of a 200-byte chat
// message; -run '^$' -bench Terms -benchmem.
func BenchmarkTerms(b *testing.B) {
	text := strings.Repeat("Hello, where is my order 12345? ", 7)[:200]
	for _, bb := range []struct {
		name string
		f    func(string, int) []word
	}{{"now", wordsUpTo}, {"before", wordsRef}} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				bb.f(text, maxInputRunes)
			}
		})
	}
}
