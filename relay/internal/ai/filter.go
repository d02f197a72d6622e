package ai

import (
	"strings"
)

// Filter removes secrets and images from model output as it streams, and
// spots the hand-off marker.
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
//   - images: "[alt](url)" and "[alt][ref]" right after a '!' (markdown
//     images; the '!' itself has already been shown and stays), and HTML
//     "<img ...>": the model has no reason to show an image and a remote one
//     would leak the visitor's address to whoever hosts it.
//   - everything from the hand-off marker "<<handoff" on (HandoffMarker,
//     any case): the model asks for a person that way when the upstream
//     has no tools; Handoff reports it.
//
// It works on a stream and adds no lag to text that cannot be the start of
// something it hides: Write returns at once every byte that is decided,
// and of a token still growing at the end of the chunk it releases the
// longest head that is safe to show whatever follows (safeHead: up to 16
// letters shaped like a word, or up to 16 digits, never a character after a
// known key prefix, nothing after "Bearer"). When such a token turns out
// key-like, only what follows its safe head is replaced. So " word" chunks,
// as OpenAI streams them, come out in the same chunk; what is held back is
// a possible secret, image, or marker (at most a few KB) until decided.
// The output is the same however the input is cut into chunks: every
// decision depends only on the text, never on where a chunk ended. A
// Filter is for one stream, not for concurrent use.
type Filter struct {
	buf       []byte // undecided input
	head      []byte // the released safe head of a token still growing
	swallow   bool   // inside an over-long token already replaced
	bearer    bool   // the last token was "Bearer" followed only by blanks
	bang      bool   // the last byte shown was '!': a '[' may start an image
	handoff   bool   // the hand-off marker was seen: nothing more is shown
	redacted  int
	droppedIm int
	out       outBuf // scan's output, reused
}

// outBuf collects scan's output.
type outBuf []byte

func (o *outBuf) put(b []byte)  { *o = append(*o, b...) }
func (o *outBuf) puts(s string) { *o = append(*o, s...) }
func (o *outBuf) putc(c byte)   { *o = append(*o, c) }

const (
	replacement = "[redacted]"
	maxRun      = 256  // rule (d)
	minMixedRun = 32   // rule (b)
	minPrefixed = 16   // rule (a)
	minBearer   = 8    // rule (c)
	maxSafeHead = 16   // longest token head shown before the token is decided
	maxAlt      = 1000 // image alt text
	maxURL      = 2000 // image URL or reference
	maxTag      = 2000 // <img ...>
)

// HandoffMarker is the text a model without tools writes to pass the chat
// to a person (see the system prompt); the filter hides it and what
// follows, and reports it (Handoff).
const HandoffMarker = "<<handoff>>"

// markerStart is what decides the marker: the rest cannot change it.
const markerStart = "<<handoff"

var keyPrefixes = []string{"sk-", "sk_", "rk_", "ghp_", "gho_", "ghu_", "ghs_", "github_pat_", "xoxb-", "xoxp-", "xoxa-", "AKIA", "ASIA", "AIza"}

// shortestPrefix is the length of the shortest key prefix.
const shortestPrefix = 3

// prefixEnd marks the bytes a key prefix ends with: safeHead compares
// the prefixes only after one of them.
var prefixEnd = func() (t [256]bool) {
	for _, p := range keyPrefixes {
		t[p[len(p)-1]] = true
	}
	return t
}()

// Write adds the next chunk and returns the text now final.
func (f *Filter) Write(chunk string) string {
	if f.handoff {
		return ""
	}
	f.buf = append(f.buf, chunk...)
	out := f.scan(false)
	if string(out) == chunk {
		return chunk // the common case: all of it, unchanged; no copy
	}
	return string(out)
}

// Flush ends the stream and returns everything still held back.
func (f *Filter) Flush() string {
	out := ""
	if !f.handoff {
		out = string(f.scan(true))
	}
	f.buf, f.head = f.buf[:0], f.head[:0]
	f.swallow, f.bearer, f.bang = false, false, false
	return out
}

// Handoff reports whether the model wrote the hand-off marker.
func (f *Filter) Handoff() bool { return f.handoff }

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
func (f *Filter) scan(eof bool) []byte {
	out := f.out[:0]
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
		if len(f.head) > 0 && !isTokenByte(c) {
			// The token whose head was shown ended at a chunk boundary:
			// it was its head alone, which is never key-like.
			f.endToken(f.head)
		}
		switch {
		case c == '[' && f.bang:
			n, m := matchMarkdownImage(b[i:], eof)
			if m == needMore {
				break loop
			}
			if m == matched {
				f.droppedIm++
				f.bearer, f.bang = false, false
				i += n
				continue
			}
		case c == '<':
			n, m := f.matchAngle(b[i:], eof)
			if m == needMore {
				break loop
			}
			if m == matched && f.handoff {
				i = len(b)
				break loop
			}
			if m == matched {
				f.droppedIm++
				f.bearer, f.bang = false, false
				i += n
				continue
			}
		case isTokenByte(c):
			n, done := f.token(&out, b[i:], eof)
			i += n
			if !done {
				break loop
			}
			continue
		}
		// Any other byte, or a '[' or '<' that starts no pattern.
		out.putc(c)
		f.bang = c == '!'
		if c != ' ' && c != '\t' && c != ':' {
			f.bearer = false
		}
		i++
	}
	f.buf = append(f.buf[:0], b[i:]...)
	f.out = out
	return out
}

// token handles the token (or the rest of one whose head was shown) at the
// start of b: it writes what is decided and returns the bytes of b used,
// and whether the token ended (false: the rest of b waits for more input).
func (f *Filter) token(out *outBuf, b []byte, eof bool) (int, bool) {
	f.bang = false
	j := 0
	for j < len(b) && len(f.head)+j < maxRun && isTokenByte(b[j]) {
		j++
	}
	shown := len(f.head)
	tok := append(f.head, b[:j]...)
	safe := f.safeHead(tok)
	switch {
	case len(tok) >= maxRun:
		out.put(tok[shown:max(safe, shown)])
		out.puts(replacement)
		f.redacted++
		f.swallow, f.bearer = true, false
	case j == len(b) && !eof:
		// The token may go on in the next chunk: show its safe head now.
		if safe > shown {
			out.put(tok[shown:safe])
		}
		f.head = tok[:max(safe, shown)]
		return max(safe, shown) - shown, false
	case f.bearer && len(tok) >= minBearer || keyLike(tok):
		out.put(tok[shown:max(safe, shown)])
		out.puts(replacement)
		f.redacted++
		f.bearer = false
	default:
		out.put(tok[shown:])
		f.endToken(tok)
		f.head = tok[:0]
		return j, true
	}
	f.head = tok[:0]
	return j, true
}

// endToken records a token that ended as shown: "Bearer" arms rule (c).
func (f *Filter) endToken(tok []byte) {
	f.bearer = strings.EqualFold(string(tok), "bearer")
	f.head = f.head[:0]
}

// safeHead returns the length of the longest head of tok that may be shown
// before the token ends, whatever follows. A key-like token is random: its
// letters and digits alternate, and its letters mix cases. So a safe head
// is at most maxSafeHead bytes of runs of letters shaped like a word (any
// first letter, then lower case; or all capitals), of digits and of
// [-_+/=], with at most one change between letters and digits ("9am",
// "mp3", "24/7", "well-known", "//shop"); never a byte after a known key
// prefix (the prefix is public, what follows it is the secret), and
// nothing right after "Bearer ". Every head of a safe head is safe, so
// what was shown never has to be taken back.
func (f *Filter) safeHead(tok []byte) int {
	if f.bearer {
		return 0
	}
	n := min(len(tok), maxSafeHead)
	changes := 0
	var last byte     // class of the last letter or digit: 'a', '0', or 0
	runStart := -1    // start of the current letter run
	allUpper := false // the current letter run is all capitals so far
	for k := 0; k < n; k++ {
		c := tok[k]
		switch {
		case isDigit(c):
			if last == 'a' {
				changes++
			}
			last, runStart = '0', -1
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			if last == '0' {
				changes++
			}
			up := c >= 'A' && c <= 'Z'
			switch {
			case runStart < 0 || k > 0 && !isLetter(tok[k-1]):
				runStart, allUpper = k, up
			case k == runStart+1:
				allUpper = allUpper && up
				if up && !allUpper {
					return k // "aB"
				}
			case allUpper && !up, !allUpper && up:
				return k // "ABc", "AbC"
			}
			last = 'a'
		default: // one of -_+/=
			runStart = -1
		}
		if changes > 1 {
			return k
		}
		if k+1 < n && prefixEnd[c] {
			for _, p := range keyPrefixes {
				q := k + 1 - len(p)
				if q >= 0 && string(tok[q:k+1]) == p && (q == 0 || !isLetter(tok[q-1]) && !isDigit(tok[q-1])) {
					return k + 1 // past a key prefix: the secret part
				}
			}
		}
	}
	return n
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }

// matchAngle tries, at a '<' that starts b, the hand-off marker (any
// case; it sets f.handoff) and an HTML image tag.
func (f *Filter) matchAngle(b []byte, eof bool) (int, match) {
	k := 0
	for k < len(b) && k < len(markerStart) && lower(b[k]) == markerStart[k] {
		k++
	}
	switch {
	case k == len(markerStart):
		f.handoff = true
		return k, matched
	case k == len(b) && !eof:
		return 0, needMore
	}
	return matchImgTag(b, eof)
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
	if len(run) < shortestPrefix+minPrefixed {
		return false // too short for rule (a): most words end here
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

// matchMarkdownImage tries "[alt](url)" or "[alt][ref]" at the start of
// b (the '!' before it was already shown).
func matchMarkdownImage(b []byte, eof bool) (int, match) {
	undecided := needMore
	if eof {
		undecided = noMatch
	}
	end := -1
	for k := 1; k < len(b) && k < 1+maxAlt; k++ {
		if b[k] == ']' {
			end = k
			break
		}
	}
	if end < 0 {
		if len(b) < 1+maxAlt {
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
