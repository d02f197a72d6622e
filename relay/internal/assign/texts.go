package assign

import "github.com/kefuhq/kefu/relay/internal/i18n"

// The system messages a visitor reads when people come and go, so they
// always know who (or what) is answering — in their language (widget/i18n,
// "relay" texts; English for anything missing).

func joinedText(name, lang string) string {
	if name == "" {
		name = i18n.Builtin().Relay(lang, "someone")
	}
	return i18n.Builtin().Relay(lang, "joined", "name", name)
}

func closedText(lang string) string { return i18n.Builtin().Relay(lang, "closed") }

func transferText(lang string) string { return i18n.Builtin().Relay(lang, "transfer") }

func awayText(name, lang string) string {
	if name == "" {
		return transferText(lang)
	}
	return i18n.Builtin().Relay(lang, "away", "name", name)
}
