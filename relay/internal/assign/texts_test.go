package assign

import (
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/i18n"
)

// Every message exists in every catalogue language, with the
// agent's name where it belongs.
func TestTextsInEveryLanguage(t *testing.T) {
	for _, lang := range i18n.Builtin().Langs() {
		for _, s := range []string{joinedText("Mei", lang), joinedText("", lang), closedText(lang), transferText(lang), awayText("Mei", lang)} {
			if strings.TrimSpace(s) == "" || strings.Contains(s, "{") {
				t.Errorf("%s: %q", lang, s)
			}
		}
		if lang != "en" && closedText(lang) == closedText("en") {
			t.Errorf("%s: closed text is English", lang)
		}
		if !strings.Contains(joinedText("Mei", lang), "Mei") {
			t.Errorf("%s: joined text lacks the name", lang)
		}
	}
}
