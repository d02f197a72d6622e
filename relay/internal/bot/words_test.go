package bot

import "testing"

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
