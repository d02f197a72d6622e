package router

import (
	"slices"
	"testing"
)

// TestGroup: visitors' questions, written for this test, by need; Group
// must put each need's questions together and keep needs apart.
func TestGroup(t *testing.T) {
	needs := [][]string{
		{"do you ship to canada", "can you deliver to Canada?", "shipping to canada possible?", "Do you ship to Canada and how long"},
		{"do you offer gift wrapping", "can i get it gift wrapped", "is gift wrap available"},
		{"说明书在哪里下载", "有没有说明书", "产品说明书丢了"},
		{"can i change my delivery address", "change the address on my order", "wrong address on my order, can i change it"},
		{"hi"},
		{"how do i clean the leather sofa"},
	}
	var texts []string
	var need []int
	// Interleaved, as visitors ask them.
	for i := 0; ; i++ {
		added := false
		for n, qs := range needs {
			if i < len(qs) {
				texts, need = append(texts, qs[i]), append(need, n)
				added = true
			}
		}
		if !added {
			break
		}
	}
	texts = append(texts, "", "?!")
	groups, err := Group(texts, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, g := range groups {
		var names []string
		for _, i := range g {
			names = append(names, texts[i])
		}
		t.Logf("group: %q", names)
		for _, i := range g[1:] {
			if need[i] != need[g[0]] {
				t.Errorf("%q grouped with %q", texts[i], texts[g[0]])
			}
		}
		seen += len(g)
	}
	if seen != len(texts)-2 {
		t.Errorf("%d questions grouped, want %d (the two without words left out)", seen, len(texts)-2)
	}
	if len(groups) != len(needs) {
		t.Errorf("%d groups, want %d", len(groups), len(needs))
	}
	for i := 1; i < len(groups); i++ {
		if len(groups[i]) > len(groups[i-1]) {
			t.Errorf("groups not largest first: %d after %d", len(groups[i]), len(groups[i-1]))
		}
	}
	if g, err := Group(nil, 0); err != nil || g != nil {
		t.Errorf("Group(nil) = %v, %v", g, err)
	}
	if !slices.Contains(groups[0], 0) {
		t.Errorf("largest group %v should hold the first shipping question", groups[0])
	}
}
