package router

import (
	"errors"
	"slices"
	"testing"
)

func TestDiagnose(t *testing.T) {
	intents := []Intent{
		{Name: "opening_hours", Answer: "9-5", Examples: []string{"when are you open", "what are your opening hours",
			"what time do you open", "are you open on sunday", "what time do you close today"}},
		{Name: "shipping", Answer: "2 days", Examples: []string{"how long does shipping take", "when will my package arrive",
			"how much is shipping", "do you ship abroad", "what are the shipping costs"}},
		{Name: "returns", Answer: "30 days", Examples: []string{"how do i return an item", "what is your return policy",
			"can i send it back", "i want to return my order", "what time do you close on sunday"}},
	}
	rep, err := Diagnose(intents)
	if err != nil {
		t.Fatalf("Diagnose: %v", err)
	}
	if len(rep) != 3 || rep[2].Name != "returns" || rep[2].Examples != 5 {
		t.Fatalf("got %+v, want a report per intent in order", rep)
	}
	for _, r := range rep {
		if r.Recognised+len(r.NeverMatched) != r.Examples {
			t.Errorf("%s: %d recognised + %d never matched, want %d examples", r.Name, r.Recognised, len(r.NeverMatched), r.Examples)
		}
	}
	// The returns example about closing time is an opening-hours question.
	ret := rep[2]
	if !slices.Contains(ret.NeverMatched, "what time do you close on sunday") {
		t.Errorf("returns: never matched %q, want the closing-time example among them", ret.NeverMatched)
	}
	if len(ret.Overlaps) == 0 || ret.Overlaps[0].Intent != "opening_hours" {
		t.Errorf("returns: overlaps %+v, want opening_hours first", ret.Overlaps)
	}
	if rep[1].Recognised < 4 {
		t.Errorf("shipping: recognised %d of 5, want at least 4 (its examples share words)", rep[1].Recognised)
	}
	if _, err := Diagnose(nil); !errors.Is(err, ErrInvalidIntents) {
		t.Errorf("Diagnose(nil): got %v, want ErrInvalidIntents", err)
	}
}
