package bot

import (
	"errors"
	"regexp"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/i18n"
)

// asksForPerson catches "words to that effect" even when the business
// deleted its hand-off intent: a visitor must always be able to reach a
// person.
var asksForPerson = regexp.MustCompile(`(?i)\b((talk|speak|chat)\s+(to|with)\s+(a\s+|an\s+|some\s*one|somebody|your\s+)?(real\s+|live\s+)?(human|person|people|agent|representative|someone|somebody|staff|operator)|(need|want|get|reach)\s+(a|an|some)\s+(real\s+|live\s+)?(human|person|agent|representative)|real\s+person|live\s+agent|human\s+agent|customer\s+service\s+(agent|representative)|representative|operator)\b|人工|真人|转接客服|客服人员|找客服|オペレーター|担当者`)

// WantsPerson reports whether text asks for a person.
func WantsPerson(text string) bool { return asksForPerson.MatchString(text) }

// Reasons for a hand-off; each has its own plain-words message.
type reason int

const (
	reasonAsked    reason = iota // the visitor asked, or a handoff intent matched
	reasonAIOff                  // no AI configured or it is switched off
	reasonAIFailed               // the upstream failed or timed out
	reasonBudget                 // the daily token budget is spent
	reasonBusy                   // too many answers streaming
)

func reasonFor(err error) reason {
	switch {
	case errors.Is(err, ai.ErrDisabled):
		return reasonAIOff
	case errors.Is(err, ai.ErrBudget):
		return reasonBudget
	case errors.Is(err, ai.ErrBusy):
		return reasonBusy
	default:
		return reasonAIFailed
	}
}

func (r reason) String() string {
	return [...]string{"asked", "ai_off", "ai_failed", "budget", "busy"}[r]
}

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

// handoffText is what the visitor reads when a person takes over, in
// their language (widget/i18n, "relay" texts).
func handoffText(r reason, lang string) string {
	keys := [...]string{"handoff", "handoff", "handoffFailed", "handoffBudget", "handoffBusy"}
	return i18n.Builtin().Relay(lang, keys[r])
}

// noPeopleText is what the visitor reads instead of handoffText where no
// person can take over (NoPeople): the truth, and what they can do.
func noPeopleText(r reason, lang string) string {
	keys := [...]string{"noPeopleAsked", "noPeopleOff", "noPeopleFailed", "noPeopleBudget", "noPeopleBusy"}
	return i18n.Builtin().Relay(lang, keys[r])
}
