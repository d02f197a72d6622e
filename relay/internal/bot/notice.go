package bot

import (
	"errors"
	"strconv"
	"strings"
	"time"

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

// Availability is what the team can do right now (avail.Status, as the
// bot needs it). It decides what a visitor is told when the bot hands off
// (Notice), so nobody is promised a reply that no one will send.
type Availability struct {
	// NoPeople: nobody can take a conversation over here at all (the
	// edge build has no agents): the bot keeps the conversation.
	NoPeople bool
	// Online counts the agents online and taking chats now.
	Online int
	// Away: nobody answers now whoever is online (the away switch, or
	// outside business hours with nobody online); Back is when the team
	// is back, zero when unknown.
	Away bool
	Back time.Time
	// Zone is the business's time zone, for showing Back; nil is UTC.
	Zone *time.Location
	// ReplyMinutes is the usual reply time within business hours when
	// nobody is online (0: none promised).
	ReplyMinutes int
	// Text, when set, words a relay text (the admin's own wording,
	// avail.Service.Text); nil takes the catalogues'.
	Text func(lang, key string, vars ...string) string
}

// here reports whether someone can answer now.
func (av Availability) here() bool { return !av.NoPeople && !av.Away && av.Online > 0 }

// AskContact reports whether the hand-off asks the visitor how to reach
// them: nobody can answer now, but someone will later.
func (av Availability) AskContact() bool { return !av.NoPeople && !av.here() }

// ViaContact marks the hand-off message that asks for the visitor's email:
// the widget shows its contact form under it.
const ViaContact = "contact"

// Notice is what the visitor reads when the bot hands off for reason r,
// in lang (chat.LangOf of their words; English when unknown), given the
// team's availability: why (when it is not what they asked for), then what
// happens next — a person shortly; when the team is back, or within the
// usual reply time, with a request for their email; or nobody in this
// chat. The texts are the relay's part of the message catalogues
// (widget/i18n, keys handoffWhy*, handoffOnline, handoffSoon, handoffAway,
// handoffOffline, handoffContact, handoffNobody), reworded by av.Text.
func Notice(r reason, lang string, av Availability) string {
	cat := i18n.Builtin()
	word := av.Text
	if word == nil {
		word = cat.Relay
	}
	var text string
	switch {
	case av.NoPeople:
		text = cat.Relay(lang, "handoffNobody")
	case av.here():
		text = word(lang, "handoffOnline")
	case av.Away && !av.Back.IsZero():
		text = word(lang, "handoffAway", "time", When(av.Back, av.Zone))
	case !av.Away && av.ReplyMinutes > 0:
		text = word(lang, "handoffSoon", "time", Duration(lang, av.ReplyMinutes))
	default:
		text = word(lang, "handoffOffline")
	}
	if av.AskContact() {
		text += sep(lang) + word(lang, "handoffContact")
	}
	if key := whyKeys[r]; key != "" {
		text = cat.Relay(lang, key) + sep(lang) + text
	}
	return text
}

// When shows a time in the business's zone, the same in every language
// (the widget shows it in the visitor's own zone and words).
func When(t time.Time, zone *time.Location) string {
	if zone == nil {
		zone = time.UTC
	}
	return t.In(zone).Format("2006-01-02 15:04") + " (" + zone.String() + ")"
}

// Duration words a number of minutes in lang: minutes under two hours,
// else whole hours (rounded up: a promise must not be shorter than meant).
func Duration(lang string, minutes int) string {
	cat := i18n.Builtin()
	if minutes < 120 {
		return cat.Relay(lang, "durMinutes", "n", strconv.Itoa(minutes))
	}
	return cat.Relay(lang, "durHours", "n", strconv.Itoa((minutes+59)/60))
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
