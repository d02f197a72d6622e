package router

import (
	"unicode"
	"unicode/utf8"
)

// Feature extraction is shared by fitting and classifying: a feature that
// Fit counts but Classify spells differently is silently lost, so both
// paths call features and nothing else.

const (
	// minGram and maxGram bound the character n-grams taken inside a word
	// (with its boundary marks). 3..4 tolerates one typo in a word of
	// ordinary length; measured on CLINC150 train folds it is as accurate
	// as 3..5 with a fifth fewer features (docs/intents.md).
	minGram = 3
	maxGram = 4

	// maxInputRunes caps what is looked at in one text: intents are short,
	// and a visitor pasting a novel must not cost the widget a frame.
	maxInputRunes = 1000
)

// features appends the features of text to dst and returns it. A feature
// is a string: "<word>" for a whole word, its character n-grams, "a b" for
// adjacent words, and for CJK runs single characters plus bigrams. Whole
// words and word pairs are emitted twice, doubling their term frequency:
// a word has up to a dozen n-grams, which otherwise drown it (measured on
// CLINC150: +1 point of accuracy).
func features(dst []string, text string) []string {
	buf, ends := appendFeatures(nil, nil, text)
	start := int32(0)
	for _, end := range ends {
		dst = append(dst, string(buf[start:end]))
		start = end
	}
	return dst
}

// appendFeatures is features written back to back into buf, feature i
// ending at ends[i]: classifying reuses both buffers, so a question costs
// no string per feature (the garbage collector stopped the widget's
// single-threaded classify for milliseconds; bench/notes.md, Widget).
func appendFeatures(buf []byte, ends []int32, text string) ([]byte, []int32) {
	prev := ""
	for _, w := range words(text) {
		if w.cjk {
			buf, ends = cjkFeatures(buf, ends, w.text)
			prev = ""
			continue
		}
		start := len(buf)
		buf = append(buf, '<')
		buf = append(buf, w.text...)
		buf = append(buf, '>')
		ends = append(ends, int32(len(buf)))
		marked := buf[start:]
		buf = append(buf, marked...)
		ends = append(ends, int32(len(buf)))
		if !w.digits {
			// marked stays valid if buf moves: it still views the old array.
			buf, ends = charGrams(buf, ends, marked)
		}
		if prev != "" {
			for range 2 {
				buf = append(buf, prev...)
				buf = append(buf, ' ')
				buf = append(buf, w.text...)
				ends = append(ends, int32(len(buf)))
			}
		}
		prev = w.text
	}
	return buf, ends
}

// charGrams appends the n-grams of a marked word that are shorter than it
// (the whole word is already a feature).
func charGrams(buf []byte, ends []int32, marked []byte) ([]byte, []int32) {
	n := utf8.RuneCount(marked)
	if n == len(marked) {
		// ASCII, the common case: byte offsets are rune offsets.
		for size := minGram; size <= maxGram && size < n; size++ {
			for i := 0; i+size <= n; i++ {
				buf = append(buf, marked[i:i+size]...)
				ends = append(ends, int32(len(buf)))
			}
		}
		return buf, ends
	}
	// Step by runes so n-grams never split a multi-byte rune.
	for size := minGram; size <= maxGram && size < n; size++ {
	grams:
		for i := 0; ; {
			j := i
			for k := 0; k < size; k++ {
				if j >= len(marked) {
					break grams
				}
				_, sz := utf8.DecodeRune(marked[j:])
				j += sz
			}
			buf = append(buf, marked[i:j]...)
			ends = append(ends, int32(len(buf)))
			_, sz := utf8.DecodeRune(marked[i:])
			i += sz
		}
	}
	return buf, ends
}

// cjkFeatures appends character unigrams and bigrams of a run of Chinese or
// Japanese text, which is written without spaces; bigrams recover most
// two-character words without a dictionary.
func cjkFeatures(buf []byte, ends []int32, run string) ([]byte, []int32) {
	prev := -1
	for i, r := range run {
		end := i + utf8.RuneLen(r)
		buf = append(buf, run[i:end]...)
		ends = append(ends, int32(len(buf)))
		if prev >= 0 {
			buf = append(buf, run[prev:end]...)
			ends = append(ends, int32(len(buf)))
		}
		prev = i
	}
	return buf, ends
}

// word is one normalised token of the input.
type word struct {
	text   string
	cjk    bool // a run of Han, Hiragana or Katakana characters
	digits bool // only digits: n-grams of order numbers are noise
}

// words normalises text and splits it into words. Letters and digits make
// words; everything else separates them, except apostrophes inside a word,
// which are dropped so "what's" and "whats" meet. A change between CJK and
// other scripts also separates words ("iPhone手机" is two).
func words(text string) []word { return wordsUpTo(text, maxInputRunes) }

// wordsUpTo is words looking at no more than limit runes of text. An
// ASCII rune takes a path of its own (what fold, unicode.IsLetter and
// isCJK decide for it, without their tables), and the words are built in
// one buffer, one string each: the relay tokenizes every message it
// stores for search, and this was ~7 % of its CPU at saturation (issue
// 16). FuzzWordsASCII holds it to the rune-by-rune rules.
func wordsUpTo(text string, limit int) []word {
	var out []word
	var b []byte
	curCJK, curDigits := false, true
	flush := func() {
		if len(b) > 0 {
			out = append(out, word{text: string(b), cjk: curCJK, digits: curDigits})
			b = b[:0]
		}
		curDigits = true
	}
	seen := 0
	for _, r := range text {
		if seen++; seen > limit {
			break
		}
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			switch {
			case r == '\'':
				continue
			case 'a' <= r && r <= 'z' || '0' <= r && r <= '9':
				if len(b) > 0 && curCJK {
					flush()
				}
				curCJK = false
				if r > '9' {
					curDigits = false
				}
				b = append(b, byte(r))
			default:
				flush()
			}
			continue
		}
		r = fold(r)
		switch {
		case r == '\'' || r == '’':
			// Keep the word open: "don't" → "dont".
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			c := isCJK(r)
			if len(b) > 0 && c != curCJK {
				flush()
			}
			curCJK = c
			if !unicode.IsDigit(r) {
				curDigits = false
			}
			b = utf8.AppendRune(b, r)
		case unicode.Is(unicode.Mn, r) && len(b) > 0:
			// Combining marks left over after folding carry no meaning
			// for matching ("cafe\u0301" is "cafe").
			continue
		default:
			flush()
		}
	}
	flush()
	return out
}

// isCJK reports whether r belongs to a script written without spaces.
func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || r == 'ー'
}

// fold maps a rune to the form used for matching: lower case, full-width
// ASCII to half-width, common Latin accents removed, traditional Chinese
// characters to simplified ones (tsfold.go). It is a cheap subset
// of NFKC plus case folding, enough for what visitors type; golang.org/x/text
// would cost the wasm build more than it buys here.
func fold(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII
		r -= 0xFEE0
	case r == 0x3000: // ideographic space
		return ' '
	}
	if r >= 0x4E00 && r <= 0x9FFF {
		return simplified(r)
	}
	r = unicode.ToLower(r)
	if r >= 0xC0 && r <= 0x17F {
		i := 0
		for _, f := range latinFrom {
			if f == r {
				return rune(latinTo[i])
			}
			i++
		}
	}
	return r
}

// latinFrom and latinTo strip the accent from the Latin letters visitors
// type most (rune i of latinFrom becomes byte i of latinTo): a
// typo-tolerant model should not care whether "café" had its accent.
const (
	latinFrom = "àáâãäåāăąçćčďđèéêëēėęěğìíîïīįıłľñńňòóôõöøōőŕřśšşťţùúûüūůűųýÿźżž"
	latinTo   = "aaaaaaaaacccddeeeeeeeegiiiiiiillnnnoooooooorrsssttuuuuuuuuyyzzz"
)

// isCJKFeature reports whether a feature comes from a CJK run. Such
// features and the others never share a character, so an intent's examples
// in each writing system make two orthogonal prototypes (centroids).
func isCJKFeature[S string | []byte](f S) bool {
	var b [utf8.UTFMax]byte
	r, _ := utf8.DecodeRune(b[:copy(b[:], f)])
	return isCJK(r)
}
