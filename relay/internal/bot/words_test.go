package bot

import (
	"github.com/kefuhq/kefu/relay/internal/i18n"
	"strings"
	"testing"
)

func TestWantsPerson(t *testing.T) {
	tests := []struct {
		text string
		want bool
	}{
		{"I want to talk to a real person", true},
		{"I need a person about my refund", true},
		{"can I speak to a human", true},
		{"let me chat with an agent", true},
		{"转人工", true},
		{"我要人工客服", true},
		{"担当者と話したい", true},
		{"how long does shipping take", false},
		{"what does this person look like in the photo", false},
		{"are you open on sunday", false},
	}
	for _, tt := range tests {
		if got := WantsPerson(tt.text); got != tt.want {
			t.Errorf("WantsPerson(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

// Where nobody can take over, the visitor must not be told someone will.
func TestNoPeopleTextPromisesNoPerson(t *testing.T) {
	promises := []string{"Connecting you", "will reply", "passing you to a person", "转接", "おつなぎ",
		"antwortet Ihnen", "gebe Sie an", "vous répondra", "vous transmets", "te responderá", "Te paso", "vai responder", "Vou passar",
		"답해 드립니다", "연결해", "سيرد عليك", "سأحوّلك"}
	langs := i18n.Builtin().Langs()
	if len(langs) < 9 {
		t.Fatalf("languages %v", langs)
	}
	for _, lang := range append(langs, "tlh") {
		for r := reasonAsked; r <= reasonBusy; r++ {
			t.Run(lang+"/"+r.String(), func(t *testing.T) {
				got := noPeopleText(r, lang)
				if got == "" || got == handoffText(r, lang) {
					t.Fatalf("noPeopleText = %q, want its own text", got)
				}
				for _, p := range promises {
					if strings.Contains(got, p) {
						t.Errorf("%q promises a person (%q)", got, p)
					}
				}
			})
		}
	}
}
