//go:build !kefu_widget

package router

import "unicode/utf8"

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
