package router

import "testing"

func TestDefaultIntents(t *testing.T) {
	m, err := Fit(DefaultIntents(), Options{})
	if err != nil {
		t.Fatalf("Fit(DefaultIntents()): %v", err)
	}
	tests := []struct {
		name, text, want string
	}{
		{name: "shipping", text: "how long is delivery to france", want: "shipping"},
		{name: "returns zh", text: "我想退货", want: "returns"},
		{name: "hours typo", text: "opning hours on sunday?", want: "opening_hours"},
		{name: "human", text: "talk to a human please", want: "human"},
		{name: "out of scope", text: "what's the capital of peru", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := m.Classify(tt.text)
			got := ""
			if r.Matched {
				got = r.Intent
			}
			if got != tt.want {
				t.Errorf("Classify(%q): got %q, want %q (ranked %v)", tt.text, got, tt.want, r.Ranked)
			}
		})
	}
}
