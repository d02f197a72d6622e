package router

import (
	"testing"
	"time"
)

func TestRoute(t *testing.T) {
	m := loadShop(t)
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	ago := func(min int) time.Time { return t0.Add(-time.Duration(min) * time.Minute) }
	tests := []struct {
		name     string
		question string
		agents   []Agent
		want     string
		wantOK   bool
	}{
		{name: "nobody online", question: "refund", agents: nil, wantOK: false},
		{name: "everyone full", question: "refund", agents: []Agent{
			{ID: "a", Skills: "refund", Load: 3, Capacity: 3},
			{ID: "b", Skills: "", Load: 1, Capacity: 1},
		}, wantOK: false},
		{name: "zero capacity skipped", question: "refund", agents: []Agent{
			{ID: "a", Skills: "refund", Capacity: 0},
			{ID: "b", Skills: "shipping", Capacity: 2},
		}, want: "b", wantOK: true},
		{name: "skill wins", question: "I want a refund for my order", agents: []Agent{
			{ID: "ship", Skills: "shipping delivery courier", Capacity: 5},
			{ID: "ret", Skills: "returns refund exchange", Capacity: 5},
		}, want: "ret", wantOK: true},
		{name: "chinese skill", question: "我要退款", agents: []Agent{
			{ID: "ship", Skills: "运费 快递", Capacity: 5},
			{ID: "ret", Skills: "退货 退款", Capacity: 5},
		}, want: "ret", wantOK: true},
		{name: "load lowers a good match", question: "refund please", agents: []Agent{
			{ID: "busy", Skills: "refund", Load: 9, Capacity: 10},
			{ID: "idle", Skills: "refund", Load: 0, Capacity: 10},
		}, want: "idle", wantOK: true},
		{name: "busy match beats idle mismatch", question: "refund please", agents: []Agent{
			{ID: "busy", Skills: "refund", Load: 9, Capacity: 10},
			{ID: "idle", Skills: "shipping", Load: 0, Capacity: 10},
		}, want: "busy", wantOK: true},
		{name: "no overlap: load decides", question: "hello there", agents: []Agent{
			{ID: "a", Skills: "refund", Load: 2, Capacity: 4, LastAssigned: ago(60)},
			{ID: "b", Skills: "", Load: 0, Capacity: 4, LastAssigned: ago(1)},
		}, want: "b", wantOK: true},
		{name: "tie: least recently assigned", question: "hello there", agents: []Agent{
			{ID: "a", Load: 1, Capacity: 4, LastAssigned: ago(1)},
			{ID: "b", Load: 1, Capacity: 4, LastAssigned: ago(30)},
			{ID: "c", Load: 1, Capacity: 4, LastAssigned: ago(5)},
		}, want: "b", wantOK: true},
		{name: "tie on time: smaller id", question: "", agents: []Agent{
			{ID: "z", Capacity: 1}, {ID: "m", Capacity: 1},
		}, want: "m", wantOK: true},
		{name: "skill-less agents get chats when skilled are full", question: "refund", agents: []Agent{
			{ID: "ret", Skills: "refund", Load: 2, Capacity: 2},
			{ID: "any", Skills: "", Load: 0, Capacity: 2},
		}, want: "any", wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := m.Route(tt.question, tt.agents)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Route(%q): got (%q, %v), want (%q, %v)", tt.question, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestGrounding(t *testing.T) {
	m := loadShop(t)
	tests := []struct {
		name  string
		text  string
		k     int
		first string // "" means no intents
		max   int
	}{
		{name: "best first", text: "can I get my money back", k: 3, first: "returns", max: 3},
		{name: "below threshold still grounds", text: "return policy for shipping damage", k: 2, first: "", max: 2},
		{name: "k zero", text: "refund", k: 0, max: 0},
		{name: "nothing known", text: "zzzz qqqq", k: 3, max: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := m.Grounding(tt.text, tt.k)
			if len(got) > tt.max {
				t.Fatalf("got %d intents, want at most %d", len(got), tt.max)
			}
			if tt.max > 0 && len(got) == 0 {
				t.Fatalf("got no intents, want some")
			}
			if tt.first != "" && got[0].Name != tt.first {
				t.Errorf("first: got %q, want %q", got[0].Name, tt.first)
			}
			for _, in := range got {
				if in.Answer == "" || in.Examples != nil {
					t.Errorf("intent %q: got answer %q and %d examples, want an answer and no examples", in.Name, in.Answer, len(in.Examples))
				}
			}
		})
	}
}
