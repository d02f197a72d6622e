package bot

import (
	"regexp"
	"strings"
	"sync"

	"github.com/kefuhq/kefu/relay/internal/chat"
)

// asksForPerson catches "words to that effect" even when the business
// deleted its hand-off intent: a visitor must always be able to reach a
// person. Compiled on first use, not when the program starts: the edge
// build starts anew for every request, most of which carry no message
// that needs it.
var asksForPerson = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)\b((talk|speak|chat)\s+(to|with)\s+(a\s+|an\s+|some\s*one|somebody|your\s+)?(real\s+|live\s+)?(human|person|people|agent|representative|someone|somebody|staff|operator)|(need|want|get|reach)\s+(a|an|some)\s+(real\s+|live\s+)?(human|person|agent|representative)|real\s+person|live\s+agent|human\s+agent|customer\s+service\s+(agent|representative)|representative|operator)\b|人工|真人|转接客服|客服人员|找客服|オペレーター|担当者`)
})

// personWords are what every alternative of asksForPerson ends with, in
// lower case: ASCII text without one of them cannot match, which spares
// most questions the regular expression (a backtracking scan per visitor
// message, visible in the AI benchmark's profile).
var personWords = []string{"human", "person", "people", "agent", "representative", "someone", "somebody", "staff", "operator"}

// WantsPerson reports whether text asks for a person.
func WantsPerson(text string) bool {
	if ascii(text) && !containsAnyFold(text, personWords) {
		return false
	}
	return asksForPerson().MatchString(text)
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// containsAnyFold reports whether ASCII s holds one of the lower-case
// words in any case.
func containsAnyFold(s string, words []string) bool {
	for i := 0; i < len(s); i++ {
		for _, w := range words {
			if len(s)-i >= len(w) && lowerASCII(s[i]) == w[0] && strings.EqualFold(s[i:i+len(w)], w) {
				return true
			}
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
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
