package router

import (
	"strings"
	"testing"
)

func TestAnswersValidate(t *testing.T) {
	base := func(as map[string]string) []Intent {
		return []Intent{{Name: "shipping", Examples: []string{"how long is shipping"}, Answer: "Two days.", Answers: as}}
	}
	for _, tc := range []struct {
		name string
		as   map[string]string
		bad  string // part of the error; "" means valid
	}{
		{"none", nil, ""},
		{"two languages", map[string]string{"de": "Zwei Tage.", "zh": "两天。"}, ""},
		{"a region", map[string]string{"pt-br": "Dois dias.", "zh-hant": "兩天。"}, ""},
		{"upper case", map[string]string{"DE": "Zwei Tage."}, "not a lower-case language tag"},
		{"not a tag", map[string]string{"german": "Zwei Tage."}, "not a lower-case language tag"},
		{"one letter", map[string]string{"d": "Zwei Tage."}, "not a lower-case language tag"},
		{"empty subtag", map[string]string{"de-": "Zwei Tage."}, "not a lower-case language tag"},
		{"digit first", map[string]string{"1e": "Zwei Tage."}, "not a lower-case language tag"},
		{"empty answer", map[string]string{"de": "  "}, `answer in "de" is empty`},
		{"too long", map[string]string{"de": strings.Repeat("a", MaxAnswerLen+1)}, "bytes, at most"},
		{"bad utf-8", map[string]string{"de": "\xff"}, "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(base(tc.as))
			switch {
			case tc.bad == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
				t.Fatalf("Validate: %v, want an error containing %q", err, tc.bad)
			}
		})
	}
	many := map[string]string{}
	for i := 0; i <= MaxAnswerLangs; i++ {
		many["x"+string(rune('a'+i/26))+string(rune('a'+i%26))] = "a"
	}
	if err := Validate(base(many)); err == nil || !strings.Contains(err.Error(), "translated answers") {
		t.Fatalf("Validate with %d languages: %v", len(many), err)
	}
}

func TestAnswerIn(t *testing.T) {
	in := Intent{Answer: "Two days.", Answers: map[string]string{"de": "Zwei Tage.", "fr": ""}}
	for lang, want := range map[string]string{"de": "Zwei Tage.", "en": "Two days.", "": "Two days.", "fr": "Two days."} {
		if got := in.AnswerIn(lang); got != want {
			t.Errorf("AnswerIn(%q) = %q, want %q", lang, got, want)
		}
	}
}
