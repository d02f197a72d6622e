//go:build !kefu_widget

package router

import (
	"fmt"
	"math"
)

// GroupSimilarity is the lowest cosine between a question and a group's
// mean for Group to put it there. Chosen on the hand-written questions of
// group_test.go (six needs, English and Chinese, asked in turns), which it
// groups exactly; it only orders suggestions an admin reviews.
const GroupSimilarity = 0.25

// Group clusters questions by similarity, for suggesting new intents from
// what visitors asked: TF-IDF over the questions themselves with the
// classifier's features (words, word pairs, character n-grams, and
// character unigrams and bigrams for Chinese and Japanese, so questions
// without spaces group too), then greedy clustering — each question, in
// the order given, joins the group whose mean it is nearest if the cosine
// is at least minSim (0: GroupSimilarity), else starts one. Groups are
// returned largest first (ties: the one started first), each as indices
// into texts in the order given. Questions with no feature are left out.
func Group(texts []string, minSim float64) ([][]int, error) {
	if minSim <= 0 {
		minSim = GroupSimilarity
	}
	var docs []string
	var at []int
	for i, t := range texts {
		if len(features(nil, t)) > 0 {
			docs = append(docs, t)
			at = append(at, i)
		}
	}
	if len(docs) == 0 {
		return nil, nil
	}
	_, rows, err := fitTFIDF(docs)
	if err != nil {
		return nil, fmt.Errorf("router: group: %w", err)
	}
	type group struct {
		sum     map[int32]float64
		members []int
	}
	var groups []*group
	for k, r := range rows {
		best, bestSim := -1, minSim
		for gi, g := range groups {
			var d, sq float64
			for i, id := range r.idx {
				d += float64(r.val[i]) * g.sum[id]
			}
			for _, v := range g.sum {
				sq += v * v
			}
			if sq == 0 {
				continue
			}
			if sim := d / math.Sqrt(sq); sim >= bestSim {
				best, bestSim = gi, sim
			}
		}
		if best < 0 {
			groups = append(groups, &group{sum: map[int32]float64{}})
			best = len(groups) - 1
		}
		g := groups[best]
		for i, id := range r.idx {
			g.sum[id] += float64(r.val[i])
		}
		g.members = append(g.members, at[k])
	}
	out := make([][]int, len(groups))
	for i, g := range groups {
		out[i] = g.members
	}
	// Stable: equal sizes keep the order they were started in.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j]) > len(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}
