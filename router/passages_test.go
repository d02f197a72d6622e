//go:build !kefu_widget

package router

import "testing"

func TestPassagesSearch(t *testing.T) {
	texts := []string{
		"Returns: you can return any item within 30 days of delivery for a full refund. Print the return label from your account.",
		"Shipping: we ship within one business day. Delivery takes 2 to 5 days in Europe.",
		"Gift cards never expire and can be used for any order in the shop.",
		"退货政策：收货后30天内可以退货并全额退款。",
	}
	p, err := IndexPassages(texts)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		q    string
		want int
	}{
		{"how do I return an item for a refund?", 0},
		{"how long does delivery take?", 1},
		{"do gift cards expire", 2},
		{"我想退货退款", 3},
	}
	for _, tt := range tests {
		hits := p.Search(tt.q, 2, 0.05)
		if len(hits) == 0 || hits[0].Doc != tt.want {
			t.Errorf("Search(%q) = %+v, want passage %d first", tt.q, hits, tt.want)
		}
	}
	if hits := p.Search("quantum chromodynamics lecture", 3, 0.2); len(hits) != 0 {
		t.Errorf("unrelated question matched %+v", hits)
	}
	if _, err := IndexPassages(nil); err == nil {
		t.Error("IndexPassages(nil): want an error")
	}
	var none *Passages
	if got := none.Search("x", 3, 0); got != nil {
		t.Errorf("nil index: %v", got)
	}
}
