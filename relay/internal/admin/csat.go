package admin

import (
	"math"
	"sort"
	"time"

	"github.com/kefuhq/kefu/relay/internal/csat"
)

// CSAT is the window's ratings: all, by agent and by week.
type CSAT struct {
	Scores
	ByAgent []AgentScores `json:"by_agent"` // most rated first
	ByWeek  []WeekScores  `json:"by_week"`  // oldest first, every week of the window
}

// Scores sum up ratings: how many, their average (1 to 5, two decimals;
// 0 for none) and how many were 4 or 5 ("satisfied", the usual CSAT).
type Scores struct {
	Count     int     `json:"count"`
	Average   float64 `json:"average"`
	Satisfied int     `json:"satisfied"`
	sum       int
}

// AgentScores are one agent's ratings (the agent who had the conversation
// when it closed; "" when none did).
type AgentScores struct {
	AgentID string `json:"agent_id"`
	Name    string `json:"name"`
	Scores
}

// WeekScores are one week's ratings; Week is its Monday, YYYY-MM-DD.
type WeekScores struct {
	Week string `json:"week"`
	Scores
}

func (s *Scores) add(score int) {
	s.Count++
	s.sum += score
	if score >= 4 {
		s.Satisfied++
	}
	s.Average = math.Round(float64(s.sum)/float64(s.Count)*100) / 100
}

// monday is the start of t's week (weeks begin on Monday, ISO 8601).
func monday(t time.Time) time.Time {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// csatTally builds CSAT from the ratings of a window starting at first
// and ending at now.
type csatTally struct {
	c      CSAT
	agents map[string]*AgentScores
	weeks  map[string]*WeekScores
	loc    *time.Location
	names  func(id string) string
}

func newCSATTally(first, now time.Time, names func(string) string) *csatTally {
	t := &csatTally{agents: map[string]*AgentScores{}, weeks: map[string]*WeekScores{}, loc: first.Location(), names: names}
	for w := monday(first); !w.After(now); w = w.AddDate(0, 0, 7) {
		t.c.ByWeek = append(t.c.ByWeek, WeekScores{Week: w.Format("2006-01-02")})
	}
	for i := range t.c.ByWeek {
		t.weeks[t.c.ByWeek[i].Week] = &t.c.ByWeek[i]
	}
	return t
}

func (t *csatTally) add(r csat.Rated) {
	t.c.add(r.Score)
	a := t.agents[r.AgentID]
	if a == nil {
		a = &AgentScores{AgentID: r.AgentID, Name: t.names(r.AgentID)}
		t.agents[r.AgentID] = a
	}
	a.add(r.Score)
	if w := t.weeks[monday(r.At.In(t.loc)).Format("2006-01-02")]; w != nil {
		w.add(r.Score)
	}
}

func (t *csatTally) result() CSAT {
	t.c.ByAgent = []AgentScores{}
	for _, a := range t.agents {
		t.c.ByAgent = append(t.c.ByAgent, *a)
	}
	sort.Slice(t.c.ByAgent, func(i, j int) bool {
		a, b := t.c.ByAgent[i], t.c.ByAgent[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Name < b.Name
	})
	return t.c
}

// agentNames names agents by id from their accounts; a deleted agent is
// still shown, by a placeholder.
func (a *Admin) agentNames() func(string) string {
	names := map[string]string{}
	if accts, err := a.d.Store.Accounts(); err == nil {
		for _, ac := range accts {
			names[ac.ID] = ac.Name
		}
	}
	return func(id string) string {
		switch {
		case id == "":
			return "(no agent)"
		case names[id] != "":
			return names[id]
		}
		return "(deleted agent)"
	}
}
