package bot

import (
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/kefuhq/kefu/relay/internal/ai"
)

// Source matching: an answer names the articles whose passages it used.
const (
	// minSourceOverlap is the share of the answer's words a passage must
	// hold for its article to be named: an answer that used a passage
	// repeats much of it; one that did not shares only common words.
	minSourceOverlap = 0.3
	// maxSources bounds the links under one answer.
	maxSources = 2
)

// sources returns the articles among grounding (ai.GroundArticle with a
// URL) that the answer drew on, best first: those whose passage holds at
// least minSourceOverlap of the answer's words.
func sources(grounding []ai.Grounding, answer string) []link {
	if !slices.ContainsFunc(grounding, linkable) {
		// Most answers: no article grounds them, and splitting the whole
		// answer into words as it ends costs other streams' chunks time.
		return nil
	}
	words := wordSet(answer)
	if len(words) == 0 {
		return nil
	}
	best := map[string]float64{}
	titles := map[string]string{}
	for _, g := range grounding {
		if !linkable(g) {
			continue
		}
		passage := wordSet(g.Answer)
		n := 0
		for w := range words {
			if passage[w] {
				n++
			}
		}
		if score := float64(n) / float64(len(words)); score >= minSourceOverlap && score > best[g.URL] {
			best[g.URL] = score
			titles[g.URL] = g.Name
		}
	}
	var out []link
	for u := range best {
		out = append(out, link{title: titles[u], url: u})
	}
	sort.Slice(out, func(i, j int) bool {
		if best[out[i].url] != best[out[j].url] {
			return best[out[i].url] > best[out[j].url]
		}
		return out[i].url < out[j].url
	})
	return out[:min(len(out), maxSources)]
}

// linkable: an article with a URL the answer may link to.
func linkable(g ai.Grounding) bool { return g.Kind == ai.GroundArticle && g.URL != "" }

// wordSet is the set of a text's content words: lower-cased runs of
// letters and digits of 3 or more characters, and pairs of adjacent
// Han, kana or Hangul characters (no spaces to split those on).
func wordSet(text string) map[string]bool {
	set := map[string]bool{}
	var word []rune
	var prevCJK rune
	flush := func() {
		if len(word) >= 3 {
			set[string(word)] = true
		}
		word = word[:0]
	}
	for _, r := range strings.ToLower(text) {
		cjk := unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
		switch {
		case cjk:
			flush()
			if prevCJK != 0 {
				set[string([]rune{prevCJK, r})] = true
			}
			prevCJK = r
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			word = append(word, r)
		default:
			flush()
		}
		prevCJK = 0
	}
	flush()
	return set
}
