package bot

import (
	"regexp"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/i18n"
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

// asksForPerson is the expression WantsPerson stands for (it says why it
// does not use it).
var asksForPerson = regexp.MustCompile(`(?i)\b((talk|speak|chat)\s+(to|with)\s+(a\s+|an\s+|some\s*one|somebody|your\s+)?(real\s+|live\s+)?(human|person|people|agent|representative|someone|somebody|staff|operator)|(need|want|get|reach)\s+(a|an|some)\s+(real\s+|live\s+)?(human|person|agent|representative)|real\s+person|live\s+agent|human\s+agent|customer\s+service\s+(agent|representative)|representative|operator)\b|人工|真人|转接客服|客服人员|找客服|オペレーター|担当者`)

// FuzzWantsPerson: the hand-written match gives the expression's answer.
func FuzzWantsPerson(f *testing.F) {
	for _, s := range []string{"I want to talk to a real person", "CAN I SPEAK TO A HUMAN", "Talk to Someone", "need an Agent", "operator!",
		"how long does shipping take", "转人工", "perſon", "talk to a Kelvin\u212a", "customer service representative",
		"talk to someone human", "talk to someonehuman", "talk to some one", "talk  to\tsome\n one", "talk to a\vhuman", "talk to somebody",
		"x\u017fpeak to a human", "\u017fpeak to a human", "_operator", "operators", "operator_", "representative9", "a real\r\nperson",
		"get an real agent", "reach some live representative", "need a people", "chat with your staff", "customer service  agent",
		"customerservice agent", "\xe4人工", "\xf0人工", "担当", "オペレータ", "human agen", "ＯＰＥＲＡＴＯＲ", "talk to a human\xff", "\xfftalk to a human",
		"\u212aeep me, operator\u212a", "talk to a hu\u212aman"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := WantsPerson(s), asksForPerson.MatchString(s); got != want {
			t.Fatalf("WantsPerson(%q) = %v, the expression says %v", s, got, want)
		}
	})
}

// Where nobody can take over, or nobody is online, the visitor must not be
// told someone will reply shortly; every notice exists in every language.
func TestNoticePromisesOnlyWhatHappens(t *testing.T) {
	shortly := []string{"Connecting you", "shortly", "passing you to a person", "尽快", "まもなく", "곧 ", "قريبًا", "in Kürze", "sous peu", "en breve", "em breve"}
	langs := i18n.Builtin().Langs()
	if len(langs) < 9 {
		t.Fatalf("languages %v", langs)
	}
	for _, lang := range langs {
		for r := reasonAsked; r < reasonCount; r++ {
			t.Run(lang+"/"+r.String(), func(t *testing.T) {
				online := Notice(r, lang, Availability{Online: 2})
				offline := Notice(r, lang, Availability{})
				nobody := Notice(r, lang, Availability{NoPeople: true})
				if online == "" || offline == online || nobody == online || nobody == offline {
					t.Fatalf("notices not distinct: %q / %q / %q", online, offline, nobody)
				}
				if lang != "en" && online == Notice(r, "en", Availability{Online: 2}) {
					t.Errorf("%s falls back to English: %q", lang, online)
				}
				for _, p := range shortly {
					if strings.Contains(offline, p) || strings.Contains(nobody, p) {
						t.Errorf("%q / %q promise a quick reply (%q)", offline, nobody, p)
					}
				}
			})
		}
	}
	if got := Notice(reasonAsked, "tlh", Availability{Online: 1}); got != Notice(reasonAsked, "en", Availability{Online: 1}) {
		t.Errorf("unknown language: got %q", got)
	}
}
