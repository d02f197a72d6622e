package admin

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/kefuhq/kefu/relay/internal/csat"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Dashboard window: two weeks by default, a quarter at most (the cost is a
// read of every message in the window).
const (
	defaultDays = 14
	maxDays     = 90
)

// Dashboard is GET /v1/admin/dashboard.
type Dashboard struct {
	From          int64         `json:"from"`          // start of the first day, Unix ms
	TZOffset      int           `json:"tz_offset"`     // minutes east of UTC the days are cut in
	Days          []DayCount    `json:"days"`          // oldest first
	Conversations int           `json:"conversations"` // started in the window
	Answered      Answered      `json:"answered"`
	Answers       AnswerCounts  `json:"answers"`
	FirstResponse FirstResponse `json:"first_response"`
	Queue         int           `json:"queue"`         // waiting for a person now
	Open          int           `json:"open"`          // open now
	AgentsOnline  int           `json:"agents_online"` // online now
	CSAT          CSAT          `json:"csat"`          // visitors' ratings given in the window
	TookMS        int64         `json:"took_ms"`       // time to compute this
}

// DayCount is the conversations started on one day.
type DayCount struct {
	Date          string `json:"date"` // YYYY-MM-DD in the requested offset
	Conversations int    `json:"conversations"`
}

// Answered splits the window's conversations by the most human answer
// each got: a person, else the AI, else an FAQ intent (in the browser if
// any intent answer came from there, else on the relay), else nothing
// yet. The five add up to Conversations.
type Answered struct {
	People         int `json:"people"`
	AI             int `json:"ai"`
	IntentsBrowser int `json:"intents_browser"`
	IntentsRelay   int `json:"intents_relay"`
	Unanswered     int `json:"unanswered"`
}

// AnswerCounts counts the answering messages in the window's
// conversations by where they came from.
type AnswerCounts struct {
	Browser int `json:"browser"` // FAQ answers classified by the widget's wasm
	Relay   int `json:"relay"`   // FAQ answers classified on the relay
	AI      int `json:"ai"`
	Agent   int `json:"agent"`
}

// FirstResponse is the time from the hand-off to a person's first message.
type FirstResponse struct {
	MedianMS int64 `json:"median_ms"`
	Count    int   `json:"count"` // conversations with a person's answer after a hand-off
}

// convStats is what one conversation's messages add to the dashboard.
type convStats struct {
	answers    AnswerCounts
	firstReply time.Duration
	replied    bool // firstReply is set
}

// statsOf reads one conversation's transcript. The hand-off is the first
// system message (the "connecting you with a person" notice, or "X joined"
// when a person took over from the bot directly); the first response is
// the first agent message after it.
func statsOf(msgs []store.Message) convStats {
	var s convStats
	var handoff time.Time
	for _, m := range msgs {
		switch {
		case m.From == protocol.FromSystem && handoff.IsZero():
			handoff = m.Time
		case m.From == protocol.FromAgent:
			s.answers.Agent++
			if !s.replied && !handoff.IsZero() {
				s.firstReply, s.replied = m.Time.Sub(handoff), true
			}
		case m.From == protocol.FromBot && m.Via == "ai":
			s.answers.AI++
		case m.From == protocol.FromBot && m.Via == "browser":
			s.answers.Browser++
		case m.From == protocol.FromBot && m.Via == "relay":
			s.answers.Relay++
		}
	}
	return s
}

// add counts one conversation in its tier.
func (d *Answered) add(a AnswerCounts) {
	switch {
	case a.Agent > 0:
		d.People++
	case a.AI > 0:
		d.AI++
	case a.Browser > 0:
		d.IntentsBrowser++
	case a.Relay > 0:
		d.IntentsRelay++
	default:
		d.Unanswered++
	}
}

// median of durations in milliseconds (0 for none); sorts ds.
func median(ds []time.Duration) int64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2].Milliseconds()
	}
	return ((ds[n/2-1] + ds[n/2]) / 2).Milliseconds()
}

// Compute builds the dashboard for the days ending today (in the offset,
// minutes east of UTC). It scans every conversation record once and reads
// the messages of those started in the window.
func (a *Admin) Compute(days, tzOffset int) (Dashboard, error) {
	start := time.Now()
	loc := time.FixedZone("", tzOffset*60)
	now := a.d.Now().In(loc)
	first := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -(days - 1))
	d := Dashboard{From: first.UnixMilli(), TZOffset: tzOffset, Days: make([]DayCount, days)}
	for i := range d.Days {
		d.Days[i].Date = first.AddDate(0, 0, i).Format("2006-01-02")
	}
	index := map[string]int{}
	for i, day := range d.Days {
		index[day.Date] = i
	}
	convs, err := a.d.Store.Conversations(nil)
	if err != nil {
		return Dashboard{}, err
	}
	tally := newCSATTally(first, now, a.agentNames())
	var waits []time.Duration
	for _, c := range convs {
		if c.Status == store.StatusOpen {
			d.Open++
			if c.Handler == store.HandlerQueue {
				d.Queue++
			}
		}
		i, ok := index[c.CreatedAt.In(loc).Format("2006-01-02")]
		started := ok && c.LastSeq > 0 && !c.CreatedAt.Before(first)
		// Ratings come at a closing, in a conversation perhaps started long
		// before: any conversation active in the window is read for them.
		if !started && (c.LastSeq == 0 || c.UpdatedAt.Before(first)) {
			continue
		}
		msgs, err := a.d.Store.Messages(c.ID, 0, 0)
		if err != nil {
			return Dashboard{}, err
		}
		for _, r := range csat.Collect(msgs, first, now.Add(time.Minute)) {
			tally.add(r)
		}
		if !started {
			continue
		}
		s := statsOf(msgs)
		d.Days[i].Conversations++
		d.Conversations++
		d.Answered.add(s.answers)
		d.Answers.Browser += s.answers.Browser
		d.Answers.Relay += s.answers.Relay
		d.Answers.AI += s.answers.AI
		d.Answers.Agent += s.answers.Agent
		if s.replied {
			waits = append(waits, s.firstReply)
		}
	}
	d.FirstResponse = FirstResponse{MedianMS: median(waits), Count: len(waits)}
	d.CSAT = tally.result()
	for _, ag := range a.d.Router.Agents() {
		if ag.Status == protocol.StatusOnline {
			d.AgentsOnline++
		}
	}
	d.TookMS = time.Since(start).Milliseconds()
	return d, nil
}

// dashboard serves Compute; ?days=1..90 (14) and ?tz_offset=-720..840
// (minutes east of UTC, the browser's -getTimezoneOffset(); 0).
func (a *Admin) dashboard(w http.ResponseWriter, r *http.Request) {
	days, tz := defaultDays, 0
	q := r.URL.Query()
	if s := q.Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxDays {
			badField(w, "days must be between 1 and 90")
			return
		}
		days = n
	}
	if s := q.Get("tz_offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < -12*60 || n > 14*60 {
			badField(w, "tz_offset must be minutes east of UTC, between -720 and 840")
			return
		}
		tz = n
	}
	d, err := a.Compute(days, tz)
	if err != nil {
		a.fail(w, r, "dashboard", err)
		return
	}
	httpx.JSON(w, http.StatusOK, d)
}
