package bot

import (
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/i18n"
)

// Outside hours the notice says when the team is back and asks for an
// email; within hours with nobody online it says the usual reply time;
// with someone online it asks for nothing. Every language has its words.
func TestNoticeSaysWhenTheTeamIsBack(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	back := time.Date(2026, 12, 8, 9, 0, 0, 0, berlin)
	for _, lang := range i18n.Builtin().Langs() {
		away := Availability{Away: true, Back: back, Zone: berlin}
		got := Notice(reasonAsked, lang, away)
		if !strings.Contains(got, "2026-12-08 09:00 (Europe/Berlin)") {
			t.Errorf("%s away: %q does not say when", lang, got)
		}
		if !strings.HasSuffix(got, i18n.Builtin().Relay(lang, "handoffContact")) || !away.AskContact() {
			t.Errorf("%s away: %q does not ask for an email", lang, got)
		}
		soon := Notice(reasonAsked, lang, Availability{ReplyMinutes: 180})
		if !strings.Contains(soon, Duration(lang, 180)) || !strings.Contains(Duration(lang, 180), "3") {
			t.Errorf("%s soon: %q", lang, soon)
		}
		online := Availability{Online: 1}
		if got := Notice(reasonAsked, lang, online); got != i18n.Builtin().Relay(lang, "handoffOnline") || online.AskContact() {
			t.Errorf("%s online: %q", lang, got)
		}
	}
	// The away switch beats an agent online; an admin's wording is used.
	av := Availability{Online: 2, Away: true, Text: func(lang, key string, vars ...string) string {
		if key == "handoffOffline" {
			return "Closed for inventory."
		}
		return i18n.Builtin().Relay(lang, key, vars...)
	}}
	if got := Notice(reasonAsked, "en", av); !strings.HasPrefix(got, "Closed for inventory. ") || !av.AskContact() {
		t.Errorf("away switch: %q", got)
	}
	if Duration("en", 45) != "45 min" || Duration("en", 121) != "3 h" {
		t.Errorf("durations %q %q", Duration("en", 45), Duration("en", 121))
	}
	if (Availability{NoPeople: true}).AskContact() {
		t.Error("the edge has nobody to write back: it must not ask")
	}
}
