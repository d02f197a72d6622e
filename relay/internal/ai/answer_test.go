package ai

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
)

func TestAnswerCache(t *testing.T) {
	fake := fakeServer(t, openaitest.Options{Scenario: openaitest.Echo})
	rec := newRecorder()
	o := fastOptions(t)
	o.Cache = NewCache(100, time.Minute, nil)
	o.Metrics = rec
	c := newTestClient(t, o)
	s := settingsFor(t, fake.BaseURL, testKey)

	tests := []struct {
		name       string
		history    []Turn
		scope      string
		version    string
		wantCached bool
	}{
		{name: "first ask goes upstream", history: userMsgs("Opening hours?"), wantCached: false},
		{name: "same question from anyone is cached", history: userMsgs("opening hours"), wantCached: true},
		{name: "new grounding version misses", history: userMsgs("opening hours"), version: "v2", wantCached: false},
		{name: "question in a conversation without scope is never cached",
			history: []Turn{{Role: RoleVisitor, Text: "I am Bob"}, {Role: RoleBot, Text: "Hi Bob"}, {Role: RoleVisitor, Text: "opening hours"}}, wantCached: false},
		{name: "again without scope, still upstream",
			history: []Turn{{Role: RoleVisitor, Text: "I am Bob"}, {Role: RoleBot, Text: "Hi Bob"}, {Role: RoleVisitor, Text: "opening hours"}}, wantCached: false},
		{name: "with scope, first time upstream",
			history: []Turn{{Role: RoleVisitor, Text: "I am Bob"}, {Role: RoleVisitor, Text: "what is my name"}}, scope: "fp-bob", wantCached: false},
		{name: "same scope hits",
			history: []Turn{{Role: RoleVisitor, Text: "I am Bob"}, {Role: RoleVisitor, Text: "what is my name"}}, scope: "fp-bob", wantCached: true},
		{name: "another visitor's scope misses",
			history: []Turn{{Role: RoleVisitor, Text: "I am Eve"}, {Role: RoleVisitor, Text: "what is my name"}}, scope: "fp-eve", wantCached: false},
		{name: "context-free ask does not see the scoped answer", history: userMsgs("what is my name"), wantCached: false},
	}
	upstream := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var col collector
			version := tt.version
			if version == "" {
				version = "v1"
			}
			res, err := c.Answer(t.Context(), Request{Settings: s, History: tt.history, Scope: tt.scope, GroundingVersion: version, Visitor: "v"}, col.onDelta)
			if err != nil {
				t.Fatal(err)
			}
			if res.Cached != tt.wantCached {
				t.Errorf("cached: got %v, want %v", res.Cached, tt.wantCached)
			}
			if !tt.wantCached {
				upstream++
			}
			if got := fake.Count(); got != upstream {
				t.Errorf("upstream requests: got %d, want %d", got, upstream)
			}
			if col.text() != res.Text || res.Text == "" {
				t.Errorf("deltas %q, text %q: want equal and non-empty", col.text(), res.Text)
			}
		})
	}
	if st := o.Cache.Stats(); st.Hits != 2 {
		t.Errorf("cache hits: got %d, want 2", st.Hits)
	}
	if got := rec.get("answer cached"); got != 2 {
		t.Errorf("cached answers metric: got %v, want 2", got)
	}
}

func TestAnswerDoesNotCacheFailures(t *testing.T) {
	fake := fakeServer(t, openaitest.Options{Scenario: openaitest.Cut})
	o := fastOptions(t)
	o.Cache = NewCache(10, time.Minute, nil)
	c := newTestClient(t, o)
	s := settingsFor(t, fake.BaseURL, testKey)
	for range 2 {
		res, err := c.Answer(t.Context(), Request{Settings: s, History: userMsgs("hi"), Visitor: "v"}, nil)
		if !errors.Is(err, ErrIncomplete) || res.Cached {
			t.Fatalf("got cached=%v err %v, want an incomplete upstream answer", res.Cached, err)
		}
	}
	if got := fake.Count(); got != 2 {
		t.Errorf("upstream requests: got %d, want 2", got)
	}
}

func TestAnswerBudget(t *testing.T) {
	fake := fakeServer(t, openaitest.Options{Text: "short answer"})
	o := fastOptions(t)
	s := settingsFor(t, fake.BaseURL, testKey)
	s.MaxAnswerTokens = 100
	prompt := EstimateMessages(BuildMessages(s, nil, userMsgs("hi")))
	// Room for exactly one reservation.
	o.Budget = NewBudget(int64(prompt+100), time.UTC, nil)
	c := newTestClient(t, o)

	res, err := c.Answer(t.Context(), Request{Settings: s, History: userMsgs("hi"), Visitor: "v"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	used := o.Budget.Snapshot().Used
	if used != int64(res.Usage.Total()) || used == 0 || res.Usage.Estimated {
		t.Errorf("budget used %d, want the upstream's usage %d", used, res.Usage.Total())
	}
	// The reservation was replaced by the real, smaller usage; the next
	// worst case no longer fits.
	if _, err := c.Answer(t.Context(), Request{Settings: s, History: userMsgs("hi"), Visitor: "v"}, nil); !errors.Is(err, ErrBudget) {
		t.Errorf("second answer: got %v, want ErrBudget", err)
	}
	if got := fake.Count(); got != 1 {
		t.Errorf("upstream requests: got %d, want 1", got)
	}
}

func TestAnswerEstimatesUsageWithoutUpstreamUsage(t *testing.T) {
	// Cut: no usage chunk arrives, so usage is estimated.
	fake := fakeServer(t, openaitest.Options{Scenario: openaitest.Cut, Text: "one two three four five six"})
	o := fastOptions(t)
	o.Budget = NewBudget(100000, time.UTC, nil)
	c := newTestClient(t, o)
	s := settingsFor(t, fake.BaseURL, testKey)
	res, _ := c.Answer(t.Context(), Request{Settings: s, History: userMsgs("hi"), Visitor: "v"}, nil)
	if !res.Usage.Estimated || res.Usage.PromptTokens == 0 || res.Usage.CompletionTokens == 0 {
		t.Errorf("usage: got %+v, want an estimate", res.Usage)
	}
	if got := o.Budget.Snapshot().Used; got != int64(res.Usage.Total()) {
		t.Errorf("budget used %d, want %d", got, res.Usage.Total())
	}
}

func TestAnswerBusy(t *testing.T) {
	fake := fakeServer(t, openaitest.Options{Scenario: openaitest.Stall})
	o := fastOptions(t)
	o.Limiter = NewLimiter(10, 1)
	o.AcquireWait = 30 * time.Millisecond
	o.Budget = NewBudget(1_000_000, time.UTC, nil)
	c := newTestClient(t, o)
	s := settingsFor(t, fake.BaseURL, testKey)

	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		var once bool
		_, err := c.Answer(ctx, Request{Settings: s, History: userMsgs("first"), Visitor: "same"}, func(string) error {
			if !once {
				once = true
				close(started)
			}
			return nil
		})
		first <- err
	}()
	<-started
	_, err := c.Answer(t.Context(), Request{Settings: s, History: userMsgs("second"), Visitor: "same"}, nil)
	if !errors.Is(err, ErrBusy) {
		t.Errorf("second answer for the same visitor: got %v, want ErrBusy", err)
	}
	// Another visitor is not held up.
	other := make(chan error, 1)
	go func() {
		_, err := c.Answer(t.Context(), Request{Settings: s, History: userMsgs("[[fake:normal]] hello"), Visitor: "other"}, nil)
		other <- err
	}()
	if err := <-other; err != nil {
		t.Errorf("other visitor: %v", err)
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("first answer after cancel: got %v, want context.Canceled", err)
	}
	// ErrBusy and cancelled answers give their reservation back.
	eventually(t, time.Second, "the limiter to empty", func() bool { return o.Limiter.InUse() == 0 })
	if got, want := o.Budget.Remaining(), 1_000_000-o.Budget.Snapshot().Used; got != want {
		t.Errorf("remaining %d, want %d: a reservation leaked", got, want)
	}
}

func TestAnswerDisabled(t *testing.T) {
	c := newTestClient(t, fastOptions(t))
	s := DefaultSettings() // not enabled
	_, err := c.Answer(t.Context(), Request{Settings: s, History: userMsgs("hi")}, nil)
	if !errors.Is(err, ErrDisabled) {
		t.Errorf("got %v, want ErrDisabled", err)
	}
}

func TestAnswerPromptIsolation(t *testing.T) {
	// Two conversations through one client: each upstream request holds
	// only its own conversation, and the key is never in a prompt.
	fake := fakeServer(t, openaitest.Options{Scenario: openaitest.Echo})
	c := newTestClient(t, fastOptions(t))
	s := settingsFor(t, fake.BaseURL, testKey)
	s.SystemPrompt = "Be helpful."
	a := []Turn{{Role: RoleVisitor, Text: "alice secret 111"}, {Role: RoleBot, Text: "ok"}, {Role: RoleVisitor, Text: "question a"}}
	b := []Turn{{Role: RoleVisitor, Text: "bob secret 222"}, {Role: RoleVisitor, Text: "question b"}}
	for _, h := range [][]Turn{a, b} {
		if _, err := c.Answer(t.Context(), Request{Settings: s, History: h, Visitor: h[0].Text}, nil); err != nil {
			t.Fatal(err)
		}
	}
	reqs := fake.Requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests, want 2", len(reqs))
	}
	if body := string(reqs[1].Body); strings.Contains(body, "alice") {
		t.Errorf("bob's request holds alice's text: %s", body)
	}
	if body := string(reqs[0].Body); strings.Contains(body, "bob") {
		t.Errorf("alice's request holds bob's text: %s", body)
	}
	for _, r := range reqs {
		if strings.Contains(string(r.Body), testKey) {
			t.Error("the key is in a prompt")
		}
	}
}
