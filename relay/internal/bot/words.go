package bot

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/chat"
)

// WantsPerson reports whether text asks for a person: "words to that
// effect", caught even when the business deleted its hand-off intent, so
// that a visitor can always reach a person.
//
// It is the regular expression
//
//	(?i)\b((talk|speak|chat)\s+(to|with)\s+(a\s+|an\s+|some\s*one|somebody|your\s+)?(real\s+|live\s+)?(human|person|people|agent|representative|someone|somebody|staff|operator)|(need|want|get|reach)\s+(a|an|some)\s+(real\s+|live\s+)?(human|person|agent|representative)|real\s+person|live\s+agent|human\s+agent|customer\s+service\s+(agent|representative)|representative|operator)\b|人工|真人|转接客服|客服人员|找客服|オペレーター|担当者
//
// matched by hand (personPhrases): the edge build links no regexp
// (docs/decisions.md, issue 17), and the scan costs less than the
// expression's did. FuzzWantsPerson holds it to the expression.
func WantsPerson(text string) bool {
	for _, w := range personWordsCJK {
		if strings.Contains(text, w) {
			return true
		}
	}
	for i := 0; i < len(text); i++ {
		if !wordBoundary(text, i) {
			continue
		}
		for _, p := range personPhrases {
			if matchSlots(text, i, p) {
				return true
			}
		}
	}
	return false
}

var personWordsCJK = []string{"人工", "真人", "转接客服", "客服人员", "找客服", "オペレーター", "担当者"}

// personPhrases are the English ways of asking for a person: each a list
// of slots matched in turn, a slot being the alternatives that may stand
// there ("" makes it optional). In an alternative, ' ' is one or more
// white-space characters (\s+), '~' any number (\s*), and letters match
// in any case. A phrase stands as whole words (\b at both ends).
var personPhrases = [][][]string{
	{{"talk", "speak", "chat"}, {" to ", " with "}, {"", "a ", "an ", "some~one", "somebody", "your "}, {"", "real ", "live "},
		{"human", "person", "people", "agent", "representative", "someone", "somebody", "staff", "operator"}},
	{{"need", "want", "get", "reach"}, {" a ", " an ", " some "}, {"", "real ", "live "}, {"human", "person", "agent", "representative"}},
	{{"real person", "live agent", "human agent", "representative", "operator"}},
	{{"customer service "}, {"agent", "representative"}},
}

// matchSlots reports whether slots match s from i up to a word boundary,
// trying every alternative of each slot (backtracking).
func matchSlots(s string, i int, slots [][]string) bool {
	if len(slots) == 0 {
		return wordBoundary(s, i)
	}
	for _, alt := range slots[0] {
		if j, ok := matchAlt(s, i, alt); ok && matchSlots(s, j, slots[1:]) {
			return true
		}
	}
	return false
}

// matchAlt matches one alternative at s[i:] and returns where it ends.
// White space is taken greedily: in every phrase a letter follows it,
// which white space never matches, so there is nothing to give back.
func matchAlt(s string, i int, alt string) (int, bool) {
	for k := 0; k < len(alt); k++ {
		switch c := alt[k]; c {
		case ' ', '~':
			j := i
			for j < len(s) && isSpace(s[j]) {
				j++
			}
			if c == ' ' && j == i {
				return 0, false
			}
			i = j
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if n == 0 || !foldsTo(r, rune(c)) {
				return 0, false
			}
			i += n
		}
	}
	return i, true
}

// foldsTo reports whether r is the lower-case ASCII letter c in some case,
// as (?i) matches it: K (the Kelvin sign) is k, ſ (long s) is s.
func foldsTo(r, c rune) bool {
	for f := c; ; {
		if r == f {
			return true
		}
		if f = unicode.SimpleFold(f); f == c {
			return false
		}
	}
}

// isSpace is \s: ASCII white space without \v.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// wordBoundary is \b at s[i]: an ASCII word character on one side only.
func wordBoundary(s string, i int) bool {
	before := i > 0 && isWordByte(s[i-1])
	after := i < len(s) && isWordByte(s[i])
	return before != after
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// lang is the language of the bot's own messages in a conversation: the
// one the visitor's widget speaks, else a guess from the question.
func (f *Flow) lang(convID, question string) string {
	if c, err := f.store.Conversation(convID); err == nil {
		return f.visitorLang(c.VisitorID, question)
	}
	return chat.LangOf(question)
}

// visitorLang is lang for a conversation whose visitor is known.
func (f *Flow) visitorLang(visitorID, question string) string {
	if v, err := f.store.Visitor(visitorID); err == nil && v.Lang != "" {
		return v.Lang
	}
	return chat.LangOf(question)
}
