package ai

import (
	"strings"
)

// Filter removes secrets and images from model output as it streams.
//
// What it drops (documented in docs/ai.md):
//   - key-like tokens, replaced by "[redacted]". A token is a maximal run of
//     [A-Za-z0-9_+/=-]. It is key-like when it
//     (a) contains a known key prefix (sk-, sk_, rk_, ghp_, gho_, ghu_,
//     ghs_, github_pat_, xoxb-, xoxp-, xoxa-, AKIA, ASIA, AIza) at its
//     start or after a '-', '_', '+', '/' or '=', followed by 16 or more
//     token characters; or
//     (b) is 32 or more characters long and has both letters and digits
//     (API keys, hex and base64 secrets, JWT parts); or
//     (c) follows the word "Bearer" (any case) and a space, and is 8 or more
//     characters long; or
//     (d) is 256 or more characters long: no answer needs one, and holding
//     it back longer would make the tail unbounded.
//   - images: markdown "![alt](url)" and "![alt][ref]", and HTML "<img ...>",
//     removed without a trace: the model has no reason to show an image and a
//     remote one would leak the visitor's address to whoever hosts it.
//
// It works on a stream: Write takes the next chunk and returns the text
// that is final; a possible match at the end is held back (at most a few KB)
// until it is decided; Flush returns the rest at the end. The output is the
// same however the input is cut into chunks: decisions depend only on the
// text, never on where a chunk ended. A Filter is for one stream, not for
// concurrent use.
type Filter struct {
	buf       []byte // undecided input
	swallow   bool   // inside an over-long token already replaced
	bearer    bool   // the last token was "Bearer" followed only by blanks
	redacted  int
	droppedIm int
}

const (
	replacement = "[redacted]"
	maxRun      = 256  // rule (d)
	minMixedRun = 32   // rule (b)
	minPrefixed = 16   // rule (a)
	minBearer   = 8    // rule (c)
	maxAlt      = 1000 // image alt text
	maxURL      = 2000 // image URL or reference
	maxTag      = 2000 // <img ...>
)

var keyPrefixes = []string{"sk-", "sk_", "rk_", "ghp_", "gho_", "ghu_", "ghs_", "github_pat_", "xoxb-", "xoxp-", "xoxa-", "AKIA", "ASIA", "AIza"}

// Write adds the next chunk and returns the text now final.
func (f *Filter) Write(chunk string) string {
	f.buf = append(f.buf, chunk...)
	return f.scan(false)
}

// Flush ends the stream and returns everything still held back.
func (f *Filter) Flush() string {
	out := f.scan(true)
	f.buf = f.buf[:0]
	f.swallow, f.bearer = false, false
	return out
}

// Redactions returns how many key-like tokens were replaced.
func (f *Filter) Redactions() int { return f.redacted }

// ImagesDropped returns how many images were removed.
func (f *Filter) ImagesDropped() int { return f.droppedIm }

// FilterString filters a whole text at once.
func FilterString(s string) string {
	var f Filter
	return f.Write(s) + f.Flush()
}

// match is the outcome of trying a pattern at a position.
type match int

const (
	noMatch  match = iota // not this pattern: emit one byte and go on
	matched               // the pattern spans n bytes
	needMore              // undecided until more input arrives
)

func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '+' || c == '/' || c == '='
}

// scan decides as much of f.buf as it can. At eof nothing is undecided.
func (f *Filter) scan(eof bool) string {
	var out strings.Builder
	b := f.buf
	i := 0
loop:
	for i < len(b) {
		c := b[i]
		if f.swallow {
			if isTokenByte(c) {
				i++
				continue
			}
			f.swallow = false
		}
		switch {
		case c == '!':
			n, m := matchMarkdownImage(b[i:], eof)
			if m == needMore {
				break loop
			}
			if m == matched {
				f.droppedIm++
				f.bearer = false
				i += n
				continue
			}
		case c == '<':
			n, m := matchImgTag(b[i:], eof)
			if m == needMore {
				break loop
			}
			if m == matched {
				f.droppedIm++
				f.bearer = false
				i += n
				continue
			}
		case isTokenByte(c):
			j := i
			for j < len(b) && j-i < maxRun && isTokenByte(b[j]) {
				j++
			}
			run := b[i:j]
			switch {
			case len(run) >= maxRun:
				out.WriteString(replacement)
				f.redacted++
				f.swallow, f.bearer = true, false
			case j == len(b) && !eof:
				break loop // the token may go on in the next chunk
			case f.bearer && len(run) >= minBearer || keyLike(run):
				out.WriteString(replacement)
				f.redacted++
				f.bearer = false
			default:
				out.Write(run)
				f.bearer = strings.EqualFold(string(run), "bearer")
			}
			i = j
			continue
		}
		// Any other byte, or a '!' or '<' that starts no pattern.
		out.WriteByte(c)
		if c != ' ' && c != '\t' && c != ':' {
			f.bearer = false
		}
		i++
	}
	f.buf = append(f.buf[:0], b[i:]...)
	return out.String()
}

// keyLike applies rules (a) and (b) to a whole token.
func keyLike(run []byte) bool {
	if len(run) >= minMixedRun {
		letters, digits := false, false
		for _, c := range run {
			switch {
			case c >= '0' && c <= '9':
				digits = true
			case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
				letters = true
			}
		}
		if letters && digits {
			return true
		}
	}
	s := string(run)
	for _, p := range keyPrefixes {
		for off := 0; ; {
			k := strings.Index(s[off:], p)
			if k < 0 {
				break
			}
			at := off + k
			boundary := at == 0 || strings.IndexByte("-_+/=", s[at-1]) >= 0
			if boundary && len(s)-at-len(p) >= minPrefixed {
				return true
			}
			off = at + 1
		}
	}
	return false
}

// matchMarkdownImage tries "![alt](url)" or "![alt][ref]" at the start of b.
func matchMarkdownImage(b []byte, eof bool) (int, match) {
	undecided := needMore
	if eof {
		undecided = noMatch
	}
	if len(b) < 2 {
		return 0, undecided
	}
	if b[1] != '[' {
		return 0, noMatch
	}
	end := -1
	for k := 2; k < len(b) && k < 2+maxAlt; k++ {
		if b[k] == ']' {
			end = k
			break
		}
	}
	if end < 0 {
		if len(b) < 2+maxAlt {
			return 0, undecided
		}
		return 0, noMatch
	}
	if end+1 >= len(b) {
		return 0, undecided
	}
	var closer byte
	switch b[end+1] {
	case '(':
		closer = ')'
	case '[':
		closer = ']'
	default:
		return 0, noMatch
	}
	start := end + 2
	for k := start; k < len(b) && k < start+maxURL; k++ {
		switch b[k] {
		case closer:
			return k + 1, matched
		case '\n':
			return 0, noMatch
		}
	}
	if len(b) < start+maxURL {
		return 0, undecided
	}
	return 0, noMatch
}

// matchImgTag tries "<img ...>" (any case) at the start of b.
func matchImgTag(b []byte, eof bool) (int, match) {
	undecided := needMore
	if eof {
		undecided = noMatch
	}
	const open = "<img"
	for k := 1; k < len(open); k++ {
		if k >= len(b) {
			return 0, undecided
		}
		if lower(b[k]) != open[k] {
			return 0, noMatch
		}
	}
	if len(b) == len(open) {
		return 0, undecided
	}
	switch b[len(open)] {
	case ' ', '\t', '\n', '\r', '/', '>':
	default:
		return 0, noMatch
	}
	for k := len(open); k < len(b) && k < maxTag; k++ {
		if b[k] == '>' {
			return k + 1, matched
		}
	}
	if len(b) < maxTag {
		return 0, undecided
	}
	return 0, noMatch
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
