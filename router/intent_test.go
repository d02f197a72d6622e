package router

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	ok := Intent{Name: "hours", Examples: []string{"when are you open"}, Answer: "9-5", Action: ActionAnswer}
	with := func(f func(*Intent)) []Intent {
		in := ok
		in.Examples = append([]string(nil), ok.Examples...)
		f(&in)
		return []Intent{in}
	}
	tests := []struct {
		name    string
		intents []Intent
		wantErr string // "" means valid
	}{
		{name: "valid", intents: []Intent{ok}},
		{name: "empty action means answer", intents: with(func(i *Intent) { i.Action = "" })},
		{name: "ai without answer", intents: with(func(i *Intent) { i.Action = ActionAI; i.Answer = "" })},
		{name: "handoff with skill", intents: with(func(i *Intent) { i.Action = ActionHandoff; i.Answer = ""; i.Skill = "billing" })},
		{name: "no intents", intents: nil, wantErr: "no intents"},
		{name: "empty name", intents: with(func(i *Intent) { i.Name = " " }), wantErr: "name is empty"},
		{name: "padded name", intents: with(func(i *Intent) { i.Name = "hours " }), wantErr: "leading or trailing space"},
		{name: "long name", intents: with(func(i *Intent) { i.Name = strings.Repeat("x", MaxNameLen+1) }), wantErr: "name is 65 bytes"},
		{name: "control char", intents: with(func(i *Intent) { i.Name = "a\x00b" }), wantErr: "control character"},
		{name: "no examples", intents: with(func(i *Intent) { i.Examples = nil }), wantErr: "no examples"},
		{name: "empty example", intents: with(func(i *Intent) { i.Examples = []string{""} }), wantErr: "example 0 is empty"},
		{name: "punctuation example", intents: with(func(i *Intent) { i.Examples = []string{"?!"} }), wantErr: "example 0 has no words"},
		{name: "answer missing", intents: with(func(i *Intent) { i.Answer = "" }), wantErr: "needs an answer"},
		{name: "unknown action", intents: with(func(i *Intent) { i.Action = "dance" }), wantErr: `unknown action "dance"`},
		{name: "bad utf8", intents: with(func(i *Intent) { i.Examples = []string{"caf\xe9"} }), wantErr: "not valid UTF-8"},
		{name: "duplicate", intents: []Intent{ok, ok}, wantErr: `duplicate name "hours"`},
		{name: "too many examples", intents: with(func(i *Intent) {
			i.Examples = make([]string, MaxExamples+1)
			for j := range i.Examples {
				i.Examples[j] = "open"
			}
		}), wantErr: "501 examples"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.intents)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidIntents) {
				t.Fatalf("got %v, want an ErrInvalidIntents containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestFitRejectsBadOptions(t *testing.T) {
	in := []Intent{{Name: "a", Examples: []string{"hello"}, Answer: "hi"}}
	for _, o := range []Options{{Threshold: 1.5}, {Threshold: -1}, {Margin: 1}} {
		if _, err := Fit(in, o); err == nil {
			t.Errorf("Fit with %+v: got nil error, want one", o)
		}
	}
}
