package chat

import "unicode"

// LangOf guesses a visitor's language from their text — only to choose the
// language of the relay's own short messages (hand-off, joined, closed):
// "ja" for kana, "zh" for Han characters, else "en".
func LangOf(text string) string {
	han := false
	for _, r := range text {
		if unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) {
			return "ja"
		}
		if unicode.Is(unicode.Han, r) {
			han = true
		}
	}
	if han {
		return "zh"
	}
	return "en"
}
