package router

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Action says what happens when an intent matches.
type Action string

// The actions an intent can take.
const (
	ActionAnswer  Action = "answer"  // reply with the intent's Answer at once
	ActionAI      Action = "ai"      // let the AI answer, grounded on this intent
	ActionHandoff Action = "handoff" // hand the chat to a person with Skill
)

// Intent is one thing visitors ask about, with example phrasings.
type Intent struct {
	Name     string   `json:"name"`
	Examples []string `json:"examples"`
	Answer   string   `json:"answer"`
	// Answers are the answer in other languages, by language tag ("de",
	// "zh"): a visitor whose widget speaks one of them gets it, anyone
	// else Answer. They stay out of the model (the widget fetches its own
	// language's only).
	Answers map[string]string `json:"answers,omitempty"`
	Action  Action            `json:"action"`
	Skill   string            `json:"skill"` // only meaningful for ActionHandoff
}

// AnswerIn is the intent's answer for a visitor speaking lang: its
// translation when there is one, else Answer.
func (in Intent) AnswerIn(lang string) string {
	if t, ok := in.Answers[lang]; ok && t != "" {
		return t
	}
	return in.Answer
}

// Limits on what Fit accepts. They keep a fit under a few seconds on the
// relay and the serialised model small enough for the widget to download.
const (
	MaxIntents           = 500
	MaxExamples          = 500   // per intent
	MaxTotalExamples     = 20000 // all intents together
	MaxNameLen           = 64    // bytes
	MaxExampleLen        = 500   // bytes
	MaxAnswerLen         = 4000  // bytes
	MaxSkillLen          = 200   // bytes
	MaxAnswerLangs       = 40    // translations of one answer
	minExamplesPerIntent = 1
)

// ErrInvalidIntents is wrapped by every validation error from Validate and Fit.
var ErrInvalidIntents = errors.New("invalid intents")

// Validate checks a set of intents and returns the first problem found,
// naming the intent and field. An empty Action counts as ActionAnswer.
func Validate(intents []Intent) error {
	if len(intents) == 0 {
		return fmt.Errorf("%w: no intents", ErrInvalidIntents)
	}
	if len(intents) > MaxIntents {
		return fmt.Errorf("%w: %d intents, at most %d", ErrInvalidIntents, len(intents), MaxIntents)
	}
	seen := make(map[string]bool, len(intents))
	total := 0
	for i, in := range intents {
		if err := validateOne(in); err != nil {
			return fmt.Errorf("%w: intent %d (%q): %w", ErrInvalidIntents, i, in.Name, err)
		}
		if seen[in.Name] {
			return fmt.Errorf("%w: intent %d: duplicate name %q", ErrInvalidIntents, i, in.Name)
		}
		seen[in.Name] = true
		total += len(in.Examples)
	}
	if total > MaxTotalExamples {
		return fmt.Errorf("%w: %d examples in all, at most %d", ErrInvalidIntents, total, MaxTotalExamples)
	}
	return nil
}

func validateOne(in Intent) error {
	if err := checkText("name", in.Name, MaxNameLen); err != nil {
		return err
	}
	if strings.TrimSpace(in.Name) != in.Name {
		return errors.New("name has leading or trailing space")
	}
	if len(in.Examples) < minExamplesPerIntent {
		return errors.New("no examples")
	}
	if len(in.Examples) > MaxExamples {
		return fmt.Errorf("%d examples, at most %d", len(in.Examples), MaxExamples)
	}
	for j, ex := range in.Examples {
		if err := checkText(fmt.Sprintf("example %d", j), ex, MaxExampleLen); err != nil {
			return err
		}
		if len(words(ex)) == 0 {
			return fmt.Errorf("example %d has no words", j)
		}
	}
	switch in.Action {
	case "", ActionAnswer:
		if strings.TrimSpace(in.Answer) == "" {
			return errors.New("action answer needs an answer")
		}
	case ActionAI, ActionHandoff:
	default:
		return fmt.Errorf("unknown action %q (want answer, ai or handoff)", in.Action)
	}
	if len(in.Answer) > MaxAnswerLen {
		return fmt.Errorf("answer is %d bytes, at most %d", len(in.Answer), MaxAnswerLen)
	}
	if !utf8.ValidString(in.Answer) {
		return errors.New("answer is not valid UTF-8")
	}
	if err := validateAnswers(in.Answers); err != nil {
		return err
	}
	if in.Skill != "" {
		if err := checkText("skill", in.Skill, MaxSkillLen); err != nil {
			return err
		}
	}
	return nil
}

// isLangTag reports a lower-case language tag: "de", "pt-br",
// "zh-hant" (2–3 letters, then subtags of 1–8 letters or digits). No
// regexp: the widget's wasm links this package.
func isLangTag(s string) bool {
	if len(s) > 35 {
		return false
	}
	for i, part := range strings.Split(s, "-") {
		if (i == 0 && (len(part) < 2 || len(part) > 3)) || len(part) < 1 || len(part) > 8 {
			return false
		}
		for _, c := range part {
			if !(c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}

// validateAnswers checks an answer's translations: a language tag each,
// and an answer's own limits. Which languages a shop may use is the
// relay's business (its catalogues).
func validateAnswers(as map[string]string) error {
	if len(as) > MaxAnswerLangs {
		return fmt.Errorf("%d translated answers, at most %d", len(as), MaxAnswerLangs)
	}
	for lang, text := range as {
		if !isLangTag(lang) {
			return fmt.Errorf("answer language %q is not a lower-case language tag such as \"de\"", lang)
		}
		if strings.TrimSpace(text) == "" {
			return fmt.Errorf("answer in %q is empty", lang)
		}
		if len(text) > MaxAnswerLen {
			return fmt.Errorf("answer in %q is %d bytes, at most %d", lang, len(text), MaxAnswerLen)
		}
		if !utf8.ValidString(text) {
			return fmt.Errorf("answer in %q is not valid UTF-8", lang)
		}
	}
	return nil
}

// checkText rejects empty, oversized, non-UTF-8 or control-character text.
func checkText(field, s string, max int) error {
	switch {
	case strings.TrimSpace(s) == "":
		return fmt.Errorf("%s is empty", field)
	case len(s) > max:
		return fmt.Errorf("%s is %d bytes, at most %d", field, len(s), max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s contains a control character", field)
		}
	}
	return nil
}
