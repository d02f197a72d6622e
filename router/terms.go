//go:build !kefu_widget

package router

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Terms calls f with the search terms of text, normalised as the intent
// model normalises words (case, width, Latin accents and traditional
// Chinese folded): each word once per occurrence, and for a run of
// Chinese or Japanese, which has no spaces, each character and each pair
// of adjacent characters. The relay's conversation search indexes
// messages with it and splits queries with it, so both sides agree.
// limit bounds the runes looked at (0: no bound).
func Terms(text string, limit int, f func(term string)) {
	if limit <= 0 {
		limit = int(^uint(0) >> 1)
	}
	for _, w := range wordsUpTo(text, limit) {
		if !w.cjk {
			f(w.text)
			continue
		}
		prev := -1
		for i, r := range w.text {
			end := i + utf8.RuneLen(r)
			f(w.text[i:end])
			if prev >= 0 {
				f(w.text[prev:end])
			}
			prev = i
		}
	}
}

// TermSpans is Terms with where each term is in text: f gets the same
// terms in the same order, each with the byte range of text it came
// from (a CJK pair spans both characters; an apostrophe or a combining
// mark inside a word is inside its range). The conversation search uses
// it to mark the words a query matched in a message.
func TermSpans(text string, limit int, f func(term string, start, end int)) {
	if limit <= 0 {
		limit = int(^uint(0) >> 1)
	}
	var b strings.Builder
	var spans [][2]int // the original range of each rune of a CJK word
	cur, start, end := false, 0, 0
	flush := func() {
		if b.Len() == 0 {
			return
		}
		w := b.String()
		b.Reset()
		if !cur {
			f(w, start, end)
			return
		}
		k, prev := 0, -1
		for i, r := range w {
			e := i + utf8.RuneLen(r)
			f(w[i:e], spans[k][0], spans[k][1])
			if prev >= 0 {
				f(w[prev:e], spans[k-1][0], spans[k][1])
			}
			prev = i
			k++
		}
		spans = spans[:0]
	}
	seen := 0
	for i, r := range text {
		if seen++; seen > limit {
			break
		}
		_, n := utf8.DecodeRuneInString(text[i:]) // 1 for a bad byte
		r = fold(r)
		switch {
		case r == '\'' || r == '’':
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			c := isCJK(r)
			if b.Len() > 0 && c != cur {
				flush()
			}
			if b.Len() == 0 {
				start = i
			}
			cur = c
			b.WriteRune(r)
			end = i + n
			if c {
				spans = append(spans, [2]int{i, end})
			}
		case unicode.Is(unicode.Mn, r) && b.Len() > 0:
			end = i + n
			if cur {
				spans[len(spans)-1][1] = end
			}
		default:
			flush()
		}
	}
	flush()
}
