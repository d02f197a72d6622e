package router

import (
	"math"
	"time"
)

// Agent is an online agent as the relay sees it when a chat needs a person.
type Agent struct {
	ID           string
	Skills       string // free text: "billing refunds 退款"
	Load         int    // open chats
	Capacity     int    // most open chats the agent takes
	LastAssigned time.Time
}

// maxLoadPenalty caps how much load lowers a score (the article's
// 1 - min(load, 0.9)): a busy but well-matched agent still beats an idle
// one whose skills have nothing to do with the question.
const maxLoadPenalty = 0.9

// scoreEpsilon makes scores that differ only by float noise count as a tie.
const scoreEpsilon = 1e-9

// Route picks the agent for question: the highest cosine between the
// question and the agent's skills (in the model's TF-IDF space) times
// 1 - min(load/capacity, 0.9). Agents at capacity are skipped. When no
// agent's skills share anything with the question (including agents with
// empty skills), everyone with room competes on load alone, so agents
// without skills still get chats. Ties go to the least recently assigned,
// then the smaller ID. ok is false when nobody has room.
func (m *Model) Route(question string, agents []Agent) (id string, ok bool) {
	q := m.vocab.vectorise(question, nil)
	type cand struct {
		a        Agent
		affinity float64
		free     float64
	}
	var cands []cand
	anyAffinity := false
	for _, a := range agents {
		if a.Capacity <= 0 || a.Load >= a.Capacity {
			continue
		}
		load := math.Max(float64(a.Load), 0) / float64(a.Capacity)
		c := cand{a: a, free: 1 - math.Min(load, maxLoadPenalty)}
		if len(q.idx) > 0 && a.Skills != "" {
			c.affinity = dot(q, m.vocab.vectorise(a.Skills, nil))
		}
		anyAffinity = anyAffinity || c.affinity > scoreEpsilon
		cands = append(cands, c)
	}
	best, bestScore := -1, 0.0
	for i, c := range cands {
		s := c.free
		if anyAffinity {
			s *= c.affinity
		}
		if best < 0 || s > bestScore+scoreEpsilon ||
			(math.Abs(s-bestScore) <= scoreEpsilon && before(c.a, cands[best].a)) {
			best, bestScore = i, s
		}
	}
	if best < 0 {
		return "", false
	}
	return cands[best].a.ID, true
}

// before orders tied agents: least recently assigned first, then by ID.
func before(a, b Agent) bool {
	if !a.LastAssigned.Equal(b.LastAssigned) {
		return a.LastAssigned.Before(b.LastAssigned)
	}
	return a.ID < b.ID
}
