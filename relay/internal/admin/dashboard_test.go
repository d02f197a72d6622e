package admin_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/admin"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/protocol"
)

// fakeRouter reports fixed presence.
type fakeRouter struct{ agents []protocol.AgentInfo }

func (f fakeRouter) Upsert(context.Context, store.Account) {}
func (f fakeRouter) Agents() []protocol.AgentInfo          { return f.agents }

// history builds conversations at chosen times in a real store.
type history struct {
	t   *testing.T
	st  *boltdb.Store
	now time.Time // what the store's clock says
}

func newHistory(t *testing.T) *history {
	h := &history{t: t}
	st, err := boltdb.Open(t.TempDir(), boltdb.Options{Now: func() time.Time { return h.now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Check(); err != nil {
			t.Error(err)
		}
		st.Close()
	})
	h.st = st
	return h
}

// line is one message: who, how, and when after the conversation started.
type line struct {
	from, via string
	after     time.Duration
}

// conv creates a visitor at created and appends lines, returning the
// conversation id.
func (h *history) conv(created time.Time, lines ...line) string {
	h.t.Helper()
	ctx := context.Background()
	h.now = created
	_, c, err := h.st.CreateVisitor(ctx, []byte(store.NewID()), "")
	if err != nil {
		h.t.Fatal(err)
	}
	for i, l := range lines {
		h.now = created.Add(l.after)
		if _, err := h.st.Append(ctx, c.ID, store.NewMessage{From: l.from, Via: l.via, Text: fmt.Sprintf("line %d", i)}); err != nil {
			h.t.Fatal(err)
		}
	}
	return c.ID
}

func (h *history) set(id string, fn func(*store.Conversation)) {
	h.t.Helper()
	if _, err := h.st.UpdateConversation(context.Background(), id, func(c *store.Conversation) error { fn(c); return nil }); err != nil {
		h.t.Fatal(err)
	}
}

func TestDashboardFigures(t *testing.T) {
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	day := func(n int, hour int) time.Time { return time.Date(2026, 3, 15-n, hour, 0, 0, 0, time.UTC) }
	h := newHistory(t)
	visitor := line{from: "visitor"}
	at := func(from, via string, after time.Duration) line { return line{from, via, after} }

	h.conv(day(0, 9), visitor, at("bot", "browser", 0))                                                                             // A: intents in the browser
	h.conv(day(1, 9), visitor, at("bot", "relay", time.Second))                                                                     // B: intents on the relay
	h.conv(day(1, 10), visitor, at("bot", "ai", 2*time.Second))                                                                     // C: the AI
	h.conv(day(2, 9), visitor, at("bot", "ai", time.Second), at("system", "", 10*time.Second), at("agent", "", 70*time.Second))     // D: people, 60 s
	h.conv(day(3, 9), visitor, at("system", "", 5*time.Second), at("visitor", "", 10*time.Second), at("agent", "", 35*time.Second)) // E: people, 30 s
	f := h.conv(day(13, 9), visitor, at("system", "", time.Second), at("agent", "", 121*time.Second), at("agent", "", time.Hour))   // F: people, 120 s
	h.conv(day(14, 9), visitor, at("bot", "browser", 0))                                                                            // G: before the window
	h.conv(day(0, 10))                                                                                                              // H: no message
	i := h.conv(day(5, 9), visitor)                                                                                                 // I: waiting for a person
	h.conv(now.Add(-12*time.Hour-30*time.Minute), visitor)                                                                          // J: 23:30 UTC yesterday
	h.set(i, func(c *store.Conversation) { c.Handler = store.HandlerQueue })
	h.set(f, func(c *store.Conversation) { c.Status = store.StatusClosed })

	a := admin.New(admin.Deps{Store: h.st, Now: func() time.Time { return now },
		Router: fakeRouter{[]protocol.AgentInfo{{ID: "1", Status: "online"}, {ID: "2", Status: "away"}, {ID: "3", Status: "online"}}}})
	d, err := a.Compute(14, 0)
	if err != nil {
		t.Fatal(err)
	}
	perDay := map[string]int{}
	for _, dc := range d.Days {
		if dc.Conversations > 0 {
			perDay[dc.Date] = dc.Conversations
		}
	}
	wantDays := map[string]int{"2026-03-15": 1, "2026-03-14": 3, "2026-03-13": 1, "2026-03-12": 1, "2026-03-10": 1, "2026-03-02": 1}
	if fmt.Sprint(perDay) != fmt.Sprint(wantDays) || len(d.Days) != 14 || d.Days[0].Date != "2026-03-02" || d.Days[13].Date != "2026-03-15" {
		t.Errorf("per day %v (first %s), want %v", perDay, d.Days[0].Date, wantDays)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"conversations", d.Conversations, 8},
		{"answered", d.Answered, admin.Answered{People: 3, AI: 1, IntentsBrowser: 1, IntentsRelay: 1, Unanswered: 2}},
		{"answers", d.Answers, admin.AnswerCounts{Browser: 1, Relay: 1, AI: 2, Agent: 4}},
		{"first response", d.FirstResponse, admin.FirstResponse{MedianMS: 60_000, Count: 3}},
		{"queue", d.Queue, 1},
		{"open", d.Open, 9},
		{"agents online", d.AgentsOnline, 2},
		{"from", d.From, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).UnixMilli()},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %+v, want %+v", c.name, c.got, c.want)
		}
	}

	// An hour east of UTC, J's 23:30 is today's 00:30.
	d, err = a.Compute(14, 60)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Days[13]; got.Date != "2026-03-15" || got.Conversations != 2 || d.Days[12].Conversations != 2 {
		t.Errorf("UTC+1: today %+v, yesterday %+v", got, d.Days[12])
	}
	// One day: today only.
	if d, _ = a.Compute(1, 0); d.Conversations != 1 || len(d.Days) != 1 {
		t.Errorf("one day: %+v", d)
	}
}

func TestMedianFirstResponse(t *testing.T) {
	tests := []struct {
		name  string
		waits []time.Duration
		want  int64
	}{
		{"none", nil, 0},
		{"one", []time.Duration{5 * time.Second}, 5000},
		{"odd, unsorted", []time.Duration{9 * time.Second, time.Second, 4 * time.Second}, 4000},
		{"even: mean of the middle two", []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 100 * time.Second}, 3000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHistory(t)
			base := time.Date(2026, 3, 15, 9, 0, 0, 0, time.UTC)
			for _, w := range tt.waits {
				h.conv(base, line{"visitor", "", 0}, line{"system", "", time.Second}, line{"agent", "", time.Second + w})
			}
			a := admin.New(admin.Deps{Store: h.st, Router: fakeRouter{}, Now: func() time.Time { return base.Add(time.Hour) }})
			d, err := a.Compute(1, 0)
			if err != nil {
				t.Fatal(err)
			}
			if d.FirstResponse.MedianMS != tt.want || d.FirstResponse.Count != len(tt.waits) {
				t.Errorf("median %+v, want %d ms", d.FirstResponse, tt.want)
			}
		})
	}
}

func TestDashboardEndpoint(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	v := newVisitor(t, r)
	v.send(t, "how long does shipping take?")
	waitFor(t, "the FAQ answer", func() bool { return conversation(t, r, v.conv).LastSeq == 2 })
	var d struct {
		Days          []struct{ Conversations int }
		Conversations int
		Answered      struct {
			IntentsRelay int `json:"intents_relay"`
		}
	}
	admin.must(200, "GET", "/v1/admin/dashboard?days=7&tz_offset=-300", nil).decode(&d)
	if len(d.Days) != 7 || d.Conversations != 1 || d.Answered.IntentsRelay != 1 {
		t.Errorf("dashboard %+v", d)
	}
	for _, q := range []string{"days=0", "days=91", "days=x", "tz_offset=900", "tz_offset=-721"} {
		if res := admin.do("GET", "/v1/admin/dashboard?"+q, nil); res.status != 400 || res.code() != "bad_field" {
			t.Errorf("?%s: %d %s", q, res.status, res.body)
		}
	}
}

func TestDashboardCSAT(t *testing.T) {
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC) // a Sunday
	ago := func(days int) time.Time { return now.AddDate(0, 0, -days) }
	h := newHistory(t)
	ctx := context.Background()
	for _, a := range []store.Account{{ID: "agent-mei-00001", Username: "mei", Name: "Mei", Role: "agent", PasswordHash: "x"}, {ID: "agent-bo-000001", Username: "bo", Name: "Bo", Role: "agent", PasswordHash: "x"}} {
		if err := h.st.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	rate := func(conv string, at time.Time, agent string, score int, comment string) {
		t.Helper()
		h.now = at
		if _, err := h.st.Append(ctx, conv, store.NewMessage{From: "rating", Text: comment, Rating: &store.Rating{Score: score, Comment: comment, AgentID: agent}}); err != nil {
			t.Fatal(err)
		}
	}
	old := h.conv(ago(40), line{from: "visitor"}) // started long before the window
	rate(old, ago(3), "agent-mei-00001", 5, "")   // rated in it: counts
	q := h.conv(ago(2), line{from: "visitor"})    //
	rate(q, ago(2).Add(time.Minute), "agent-bo-000001", 2, "")
	rate(q, ago(2).Add(2*time.Minute), "agent-bo-000001", 4, "kind") // replaces the 2
	first := h.conv(ago(13), line{from: "visitor"})
	rate(first, ago(12), "agent-mei-00001", 1, "slow")
	gone := h.conv(ago(1), line{from: "visitor"})
	rate(gone, ago(1), "agent-deleted-0", 3, "")

	a := admin.New(admin.Deps{Store: h.st, Now: func() time.Time { return now }, Router: fakeRouter{}})
	d, err := a.Compute(14, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := d.CSAT
	if c.Count != 4 || c.Average != 3.25 || c.Satisfied != 2 {
		t.Errorf("CSAT = %+v; want 4 ratings averaging 3.25, 2 satisfied", c.Scores)
	}
	got := map[string]string{}
	for _, s := range c.ByAgent {
		got[s.Name] = fmt.Sprintf("%d/%.2f/%d", s.Count, s.Average, s.Satisfied)
	}
	if want := map[string]string{"Mei": "2/3.00/1", "Bo": "1/4.00/1", "(deleted agent)": "1/3.00/0"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("by agent = %v, want %v", got, want)
	}
	weeks := map[string]int{}
	for _, w := range c.ByWeek {
		weeks[w.Week] = w.Count
	}
	if want := map[string]int{"2026-03-02": 1, "2026-03-09": 3}; fmt.Sprint(weeks) != fmt.Sprint(want) || len(c.ByWeek) != 2 {
		t.Errorf("by week = %v, want %v", weeks, want)
	}
}
