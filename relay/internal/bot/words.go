package bot

import (
	"regexp"

	"github.com/kefuhq/kefu/relay/internal/chat"
)

// asksForPerson catches "words to that effect" even when the business
// deleted its hand-off intent: a visitor must always be able to reach a
// person.
var asksForPerson = regexp.MustCompile(`(?i)\b((talk|speak|chat)\s+(to|with)\s+(a\s+|an\s+|some\s*one|somebody|your\s+)?(real\s+|live\s+)?(human|person|people|agent|representative|someone|somebody|staff|operator)|(need|want|get|reach)\s+(a|an|some)\s+(real\s+|live\s+)?(human|person|agent|representative)|real\s+person|live\s+agent|human\s+agent|customer\s+service\s+(agent|representative)|representative|operator)\b|人工|真人|转接客服|客服人员|找客服|オペレーター|担当者`)

// WantsPerson reports whether text asks for a person.
func WantsPerson(text string) bool { return asksForPerson.MatchString(text) }

// lang is the language of the bot's own messages in a conversation: the
// one the visitor's widget speaks, else a guess from the question.
func (f *Flow) lang(convID, question string) string {
	if c, err := f.store.Conversation(convID); err == nil {
		if v, err := f.store.Visitor(c.VisitorID); err == nil && v.Lang != "" {
			return v.Lang
		}
	}
	return chat.LangOf(question)
}
