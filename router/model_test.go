package router

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// TestClassifyInvariants checks the Result contract on many inputs, in
// scope or not: ranked best first, at most RankedLen, scores in [0,1],
// Score equal to the top of Ranked, and empty fields when not matched.
func TestClassifyInvariants(t *testing.T) {
	m := loadShop(t)
	texts := []string{"", "?", "where is my order", "运费多少", "tell me a joke", "ＲＥＦＵＮＤ！！",
		"order order order order", "我想退货但是运费太贵了", "hello", "a b c d e f g"}
	for _, in := range m.Intents() {
		texts = append(texts, in.Name, in.Answer)
	}
	for _, text := range texts {
		r := m.Classify(text)
		if len(r.Ranked) > RankedLen {
			t.Errorf("%q: got %d ranked, want at most %d", text, len(r.Ranked), RankedLen)
		}
		for i, x := range r.Ranked {
			if x.Score <= 0 || x.Score > 1 {
				t.Errorf("%q: ranked[%d] score %v, want in (0,1]", text, i, x.Score)
			}
			if i > 0 && x.Score > r.Ranked[i-1].Score {
				t.Errorf("%q: ranked not best first: %v", text, r.Ranked)
			}
		}
		if len(r.Ranked) > 0 && r.Score != r.Ranked[0].Score {
			t.Errorf("%q: got Score %v, want top ranked %v", text, r.Score, r.Ranked[0].Score)
		}
		if !r.Matched && (r.Intent != "" || r.Answer != "" || r.Action != "" || r.Skill != "") {
			t.Errorf("%q: not matched but got intent %q action %q answer %q skill %q", text, r.Intent, r.Action, r.Answer, r.Skill)
		}
		if r.Matched && (r.Intent != r.Ranked[0].Intent || r.Score < m.Options().Threshold) {
			t.Errorf("%q: matched %q with score %v, want top ranked %q above %v", text, r.Intent, r.Score, r.Ranked[0].Intent, m.Options().Threshold)
		}
	}
}

// TestTopIsTheHeadOfAStableSort checks top against sorting every index by
// descending score with ties by index, on random scores with many ties.
func TestTopIsTheHeadOfAStableSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 40; n++ {
		scores := make([]float64, n)
		for i := range scores {
			scores[i] = float64(rng.IntN(6)) / 5 // few values: ties everywhere
		}
		want := make([]int, n)
		for i := range want {
			want[i] = i
		}
		sort.SliceStable(want, func(a, b int) bool { return scores[want[a]] > scores[want[b]] })
		for _, k := range []int{0, 1, 3, 5, n, n + 2} {
			got := top(scores, k)
			if w := want[:min(k, n)]; !slices.Equal(got, w) {
				t.Fatalf("top(%v, %d) = %v, want %v", scores, k, got, w)
			}
		}
	}
}
