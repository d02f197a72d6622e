package chat

import (
	"unicode"

	"github.com/kefuhq/kefu/relay/internal/i18n"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// LangStore is what choosing a conversation's language reads.
type LangStore interface {
	Conversation(id string) (store.Conversation, error)
	Visitor(id string) (store.Visitor, error)
	Messages(convID string, after uint64, limit int) ([]store.Message, error)
}

// Lang is the language of the relay's own messages in a conversation
// (hand-off, joined, closed): the one the visitor's widget speaks
// (store.Visitor.Lang, from hello), else a guess from the visitor's newest
// words in the last 20 messages (a widget from before languages, an API
// client), else English.
func Lang(st LangStore, convID string) string {
	c, err := st.Conversation(convID)
	if err != nil {
		return i18n.Fallback
	}
	if v, err := st.Visitor(c.VisitorID); err == nil && v.Lang != "" {
		return v.Lang
	}
	if c.LastSeq == 0 {
		return i18n.Fallback
	}
	from := uint64(0)
	if c.LastSeq > 20 {
		from = c.LastSeq - 20
	}
	msgs, err := st.Messages(convID, from, 0)
	if err != nil {
		return i18n.Fallback
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].From == protocol.FromVisitor {
			return LangOf(msgs[i].Text)
		}
	}
	return i18n.Fallback
}

// LangOf guesses a language from text by its script alone — only for
// visitors whose widget did not say (Lang): "ja" for kana, "ko" for
// Hangul, "ar" for Arabic script, "zh" for Han characters, else "en".
func LangOf(text string) string {
	han := false
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r):
			return "ja"
		case unicode.Is(unicode.Hangul, r):
			return "ko"
		case unicode.Is(unicode.Arabic, r):
			return "ar"
		case unicode.Is(unicode.Han, r):
			han = true
		}
	}
	if han {
		return "zh"
	}
	return i18n.Fallback
}
