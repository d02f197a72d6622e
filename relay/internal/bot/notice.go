package bot

import (
	"errors"
	"strings"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/i18n"
)

// Reasons for a hand-off; each starts the visitor's notice its own way,
// and labels kefu_handoffs_total.
type reason int

const (
	reasonAsked       reason = iota // the visitor asked, or a handoff intent matched
	reasonAIOff                     // no AI configured or it is switched off
	reasonAIFailed                  // the upstream failed or timed out
	reasonBudget                    // the daily token budget is spent
	reasonBusy                      // too many answers streaming
	reasonModel                     // the model asked (transfer_to_human, or the marker)
	reasonLimit                     // the visitor's or the conversation's answer cap
	reasonRateLimited               // the upstream's Retry-After is past the first-token budget
	reasonCount
)

func reasonFor(err error) reason {
	var ue *ai.UpstreamError
	switch {
	case errors.Is(err, ai.ErrHandoff):
		return reasonModel
	case errors.Is(err, ai.ErrDisabled):
		return reasonAIOff
	case errors.Is(err, ai.ErrBudget):
		return reasonBudget
	case errors.Is(err, ai.ErrBusy):
		return reasonBusy
	case errors.As(err, &ue) && ue.Status == 429:
		return reasonRateLimited
	default:
		return reasonAIFailed
	}
}

func (r reason) String() string {
	return [...]string{"asked", "ai_off", "ai_failed", "budget", "busy", "model", "limit", "rate_limited"}[r]
}

// Availability is what the team can do right now. It decides what a
// visitor is told when the bot hands off (Notice), so nobody is promised a
// reply that no one will send. Business hours and the like extend it.
type Availability struct {
	// NoPeople: nobody can take a conversation over here at all (the
	// edge build has no agents): the bot keeps the conversation.
	NoPeople bool
	// Online counts the agents online and taking chats now.
	Online int
}

// Notice is what the visitor reads when the bot hands off for reason r,
// in lang (chat.LangOf of their words; English when unknown), given the
// team's availability: why (when it is not what they asked for), then what
// happens next — a person shortly, a person when one is back, or nobody
// in this chat. The texts are the relay's part of the message catalogues
// (widget/i18n, keys handoffWhy*, handoffOnline, handoffOffline,
// handoffNobody).
func Notice(r reason, lang string, av Availability) string {
	cat := i18n.Builtin()
	tail := "handoffOnline"
	switch {
	case av.NoPeople:
		tail = "handoffNobody"
	case av.Online <= 0:
		tail = "handoffOffline"
	}
	text := cat.Relay(lang, tail)
	if key := whyKeys[r]; key != "" {
		text = cat.Relay(lang, key) + sep(lang) + text
	}
	return text
}

// sep joins the two sentences: CJK text needs no space.
func sep(lang string) string {
	if lang == "zh" || lang == "ja" {
		return ""
	}
	return " "
}

// whyKeys name the catalogue texts that say why the bot hands off, where
// it is not the visitor's own wish.
var whyKeys = [reasonCount]string{
	reasonAIFailed: "handoffWhyFailed", reasonRateLimited: "handoffWhyFailed",
	reasonBudget: "handoffWhyBudget", reasonBusy: "handoffWhyBusy", reasonLimit: "handoffWhyLimit",
}

// sourceLine is the markdown line that links an answer to its articles.
func sourceLine(lang string, links []link) string {
	var b strings.Builder
	b.WriteString("\n\n")
	b.WriteString(i18n.Builtin().Relay(lang, "source"))
	b.WriteString(": ")
	for i, l := range links {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("[" + escapeLinkText(l.title) + "](" + l.url + ")")
	}
	return b.String()
}

// link is an article's title and address.
type link struct{ title, url string }

// escapeLinkText keeps a title from closing the markdown link early.
func escapeLinkText(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, "\n", " ")
	return r.Replace(s)
}
