package bot

import (
	"reflect"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/ai"
)

func TestSources(t *testing.T) {
	const passage = "Orders ship within one business day and arrive in three to five days."
	const answer = "Your order ships within one business day and should arrive in three to five days."
	tests := []struct {
		name      string
		grounding []ai.Grounding
		want      []link
	}{
		{"no grounding", nil, nil},
		{"an FAQ answer is never linked", []ai.Grounding{{Kind: ai.GroundFAQ, Name: "shipping", Answer: passage}}, nil},
		{"an article without a URL", []ai.Grounding{{Kind: ai.GroundArticle, Name: "Shipping", Answer: passage}}, nil},
		{"an article the answer used", []ai.Grounding{
			{Kind: ai.GroundFAQ, Name: "shipping", Answer: passage},
			{Kind: ai.GroundArticle, Name: "Shipping", URL: "https://shop.example/shipping", Answer: passage},
		}, []link{{title: "Shipping", url: "https://shop.example/shipping"}}},
		{"an article the answer did not use", []ai.Grounding{
			{Kind: ai.GroundArticle, Name: "Returns", URL: "https://shop.example/returns", Answer: "Returns are free for thirty days with the label in the box."},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sources(tt.grounding, answer); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("sources = %v, want %v", got, tt.want)
			}
		})
	}
}
