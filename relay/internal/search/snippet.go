package search

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/router"
)

// Snippet is the message a search matched best, cut around its first
// match, in parts: the console renders each part as text and the matched
// ones inside <mark>, so no message text is ever parsed as HTML.
type Snippet struct {
	Seq   uint64 `json:"seq"`
	From  string `json:"from"`
	Time  int64  `json:"time"` // ms since the epoch
	Parts []Part `json:"parts"`
}

// Part is a piece of a snippet's text; Match marks a word the query
// matched.
type Part struct {
	Text  string `json:"text"`
	Match bool   `json:"match,omitempty"`
}

// Snippet bounds: runes kept before the first match and in all, and how
// many of a conversation's newest messages are looked at.
const (
	snippetBefore = 40
	snippetRunes  = 180
	snippetScan   = 500
)

// matcher tells which terms of a message a query matched.
type matcher struct {
	terms  []string
	prefix string
}

func newMatcher(text string) matcher {
	terms, prefix := queryTerms(text)
	return matcher{terms: terms, prefix: prefix}
}

func (m matcher) empty() bool { return len(m.terms) == 0 && m.prefix == "" }

// match returns the byte ranges of text the query matched, in order,
// and how many of the query's terms (the prefix counting as one) are
// among them.
func (m matcher) match(text string) (spans [][2]int, distinct int) {
	var seen []string
	router.TermSpans(text, maxTermRunes, func(t string, s, e int) {
		key := ""
		switch {
		case slices.Contains(m.terms, t):
			key = t
		case m.prefix != "" && strings.HasPrefix(t, m.prefix):
			key = "\x00prefix"
		default:
			return
		}
		if !slices.Contains(seen, key) {
			seen = append(seen, key)
		}
		spans = append(spans, [2]int{s, e})
	})
	return spans, len(seen)
}

// snippetOf picks the message of msgs that matches the most of the
// query's terms (the newest among equals) and cuts it around its first
// match; nil when no message matches (the words were in a file name of
// a message since erased, or past what is scanned).
func snippetOf(msgs []store.Message, m matcher) *Snippet {
	var best *store.Message
	var bestSpans [][2]int
	bestN := 0
	for i := range msgs {
		msg := &msgs[i]
		if !indexed(*msg) || msg.Text == "" {
			continue
		}
		spans, n := m.match(msg.Text)
		if n > 0 && n >= bestN {
			best, bestSpans, bestN = msg, spans, n
		}
	}
	if best == nil {
		return nil
	}
	return &Snippet{Seq: best.Seq, From: best.From, Time: best.Time.UnixMilli(), Parts: cut(best.Text, bestSpans)}
}

// cut takes up to snippetRunes runes of text starting a little before
// the first span, with "…" where it cut, split into plain and matched
// parts (overlapping spans, a CJK character and its pair, merged).
func cut(text string, spans [][2]int) []Part {
	merged := make([][2]int, 0, len(spans))
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	for _, s := range spans {
		if n := len(merged); n > 0 && s[0] <= merged[n-1][1] {
			merged[n-1][1] = max(merged[n-1][1], s[1])
			continue
		}
		merged = append(merged, s)
	}
	from := 0
	if len(merged) > 0 {
		from = back(text, merged[0][0], snippetBefore)
	}
	to := forward(text, from, snippetRunes)
	var parts []Part
	add := func(s string, match bool) {
		if s != "" {
			parts = append(parts, Part{Text: s, Match: match})
		}
	}
	if from > 0 {
		add("…", false)
	}
	at := from
	for _, s := range merged {
		if s[0] >= to {
			break
		}
		s[1] = min(s[1], to)
		if s[1] <= at {
			continue
		}
		add(text[at:max(at, s[0])], false)
		add(text[max(at, s[0]):s[1]], true)
		at = s[1]
	}
	add(text[at:to], false)
	if to < len(text) {
		add("…", false)
	}
	// Runs of spaces and line breaks read as one space in a list entry.
	for i := range parts {
		parts[i].Text = collapse(parts[i].Text)
	}
	if len(parts) > 0 {
		parts[0].Text = strings.TrimLeft(parts[0].Text, " ")
		parts[len(parts)-1].Text = strings.TrimRight(parts[len(parts)-1].Text, " ")
	}
	return slices.DeleteFunc(parts, func(p Part) bool { return p.Text == "" })
}

// collapse turns each run of white space into one space.
func collapse(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// back is the byte offset up to n runes before at, moved forward to the
// start of a word when one begins within the last few runes looked at
// (a snippet should not open on half a word).
func back(text string, at, n int) int {
	i := at
	for k := 0; k < n && i > 0; k++ {
		_, size := utf8.DecodeLastRuneInString(text[:i])
		i -= size
	}
	if i == 0 {
		return 0
	}
	if j := strings.IndexAny(text[i:at], " \t\r\n"); j >= 0 && j < 16 {
		return i + j + 1
	}
	return i
}

// forward is the byte offset n runes after from (or the end), moved
// back to the end of a word when one ends within the last few runes.
func forward(text string, from, n int) int {
	i := from
	for k := 0; k < n && i < len(text); k++ {
		_, size := utf8.DecodeRuneInString(text[i:])
		i += size
	}
	if i == len(text) {
		return i
	}
	if j := strings.LastIndexAny(text[from:i], " \t\r\n"); j >= 0 && i-(from+j) < 16 {
		return from + j
	}
	return i
}
