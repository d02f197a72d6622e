package search

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
	"github.com/kefuhq/kefu/relay/protocol"
)

var bg = context.Background()

// seeded is a real bbolt store with conversations whose words, agents,
// tags and dates are known, and a service over it.
type seeded struct {
	st    *boltdb.Store
	svc   *Service
	convs map[string]string // name → conversation id
	vis   map[string]string // name → visitor id
}

// indexedStore opens a real bbolt store whose appends go to *svc once it
// is set.
func indexedStore(t *testing.T, svc **Service) *boltdb.Store {
	t.Helper()
	st, err := boltdb.Open(t.TempDir(), boltdb.Options{OnAppend: func(a store.Appended) {
		if *svc != nil {
			(*svc).OnAppend(a)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// runBuilt runs svc until the test ends and waits for its index.
func runBuilt(t *testing.T, svc *Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(bg)
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the index built", svc.Ready)
}

func seed(t *testing.T) *seeded {
	t.Helper()
	var svc *Service
	st := indexedStore(t, &svc)
	s := &seeded{st: st, convs: map[string]string{}, vis: map[string]string{}}
	for _, c := range []struct {
		name  string
		msgs  []store.NewMessage
		agent string
	}{
		{"refund", []store.NewMessage{{From: protocol.FromVisitor, Text: "I want a refund for order 1234"}, {From: protocol.FromAgent, AuthorID: "alice", Text: "Refunds take five days."}}, "alice"},
		{"refund2", []store.NewMessage{{From: protocol.FromVisitor, Text: "Where is my REFUND? It has been weeks"}, {From: protocol.FromAgent, AuthorID: "bob", Text: "Let me check with accounting"}}, "bob"},
		{"shipping", []store.NewMessage{{From: protocol.FromVisitor, Text: "How long does shipping to Germany take?"}, {From: protocol.FromBot, Text: "Shipping takes 3 days"}}, ""},
		{"chinese", []store.NewMessage{{From: protocol.FromVisitor, Text: "我想退款，訂單還沒到"}}, ""},
		{"system", []store.NewMessage{{From: protocol.FromVisitor, Text: "hello there"}, {From: protocol.FromSystem, Text: "Alice joined the conversation"}}, ""},
		// Given to carol, then to dave; neither wrote (the lines saying
		// they joined name them, as assign does).
		{"handed", []store.NewMessage{{From: protocol.FromVisitor, Text: "my voucher code fails"},
			{From: protocol.FromSystem, AuthorID: "carol", Text: "Carol joined the conversation"},
			{From: protocol.FromSystem, AuthorID: "dave", Text: "Dave joined the conversation"}}, "dave"},
	} {
		v, conv, err := st.CreateVisitor(bg, storetest.TokenHash(c.name), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Append(bg, conv.ID, c.msgs...); err != nil {
			t.Fatal(err)
		}
		if c.agent != "" {
			if _, err := st.UpdateConversation(bg, conv.ID, func(cv *store.Conversation) error {
				return store.Assign(cv, c.agent, "")
			}); err != nil {
				t.Fatal(err)
			}
		}
		s.convs[c.name], s.vis[c.name] = conv.ID, v.ID
	}
	if _, err := st.UpdateConversation(bg, s.convs["chinese"], store.Close); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateConversation(bg, s.convs["system"], store.HandOff); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.ChangeTags(bg, st, s.convs["refund2"], []string{"vip", "refund"}, nil, "bob", time.Now()); err != nil {
		t.Fatal(err)
	}
	svc = New(st, Options{})
	s.svc = svc
	runBuilt(t, svc)
	return s
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *seeded) find(t *testing.T, q Query) []string {
	t.Helper()
	res, err := s.svc.Search(q, 0, MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != len(res.Conversations) {
		t.Fatalf("%+v: total %d, %d on the page", q, res.Total, len(res.Conversations))
	}
	names := map[string]string{}
	for n, id := range s.convs {
		names[id] = n
	}
	var out []string
	for _, c := range res.Conversations {
		out = append(out, names[c.ConversationID])
	}
	return out
}

func TestSearchFindsTheRightConversations(t *testing.T) {
	s := seed(t)
	day := time.Now().UTC().Format(time.DateOnly)
	for _, tc := range []struct {
		name   string
		q      Query
		want   []string
		sorted bool // order matters
	}{
		{"a word, any case and form", Query{Text: "refund"}, []string{"refund", "refund2"}, false},
		{"every word must be there", Query{Text: "refund order "}, []string{"refund"}, false},
		{"the last word is a prefix while typing", Query{Text: "germ"}, []string{"shipping"}, false},
		{"a finished word is not a prefix", Query{Text: "germ "}, nil, false},
		{"words of the bot's answers", Query{Text: "3 days"}, []string{"shipping"}, false},
		{"Chinese by characters, traditional folded", Query{Text: "订单"}, []string{"chinese"}, false},
		{"system lines are not searched", Query{Text: "joined"}, nil, false},
		{"a tag", Query{Tags: []string{"vip"}}, []string{"refund2"}, false},
		{"a tag and a word", Query{Text: "refund", Tags: []string{"refund"}}, []string{"refund2"}, false},
		{"an agent who wrote", Query{Agent: "alice"}, []string{"refund"}, false},
		{"an agent and a word", Query{Agent: "bob", Text: "accounting"}, []string{"refund2"}, false},
		{"an agent given it who never wrote", Query{Agent: "carol"}, []string{"handed"}, false},
		{"the agent who has it", Query{Agent: "dave"}, []string{"handed"}, false},
		{"closed", Query{Status: []string{StateClosed}}, []string{"chinese"}, false},
		{"open", Query{Status: []string{StateOpen}}, []string{"handed", "refund", "refund2", "shipping", "system"}, false},
		{"with the bot", Query{Status: []string{StateBot}}, []string{"shipping"}, false},
		{"in the queue", Query{Status: []string{StateQueued}}, []string{"system"}, false},
		{"with an agent", Query{Status: []string{StateAgent}}, []string{"handed", "refund", "refund2"}, false},
		{"either of two states", Query{Status: []string{StateBot, StateClosed}}, []string{"chinese", "shipping"}, false},
		{"a state and a word", Query{Text: "refund", Status: []string{StateAgent}, Agent: "bob"}, []string{"refund2"}, false},
		{"an unknown word", Query{Text: "zebra"}, nil, false},
		{"dates that hold today", Query{Text: "refund", From: mustDay(t, day, false), To: mustDay(t, day, true)}, []string{"refund", "refund2"}, false},
		{"dates before anything", Query{Text: "refund", To: mustDay(t, "2020-01-01", true)}, nil, false},
		{"the rarer word ranks first", Query{Text: "refund weeks"}, []string{"refund2"}, true},
	} {
		got := s.find(t, tc.q)
		want := slices.Clone(tc.want)
		if !tc.sorted {
			sort.Strings(got)
			sort.Strings(want)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %+v found %q, want %q", tc.name, tc.q, got, want)
		}
	}
	// Tags come with the results.
	res, _ := s.svc.Search(Query{Tags: []string{"vip"}}, 0, 10)
	if len(res.Conversations) != 1 || !slices.Equal(res.Conversations[0].Tags, []string{"refund", "vip"}) {
		t.Fatalf("tagged result: %+v", res.Conversations)
	}
}

func mustDay(t *testing.T, s string, end bool) time.Time {
	d, err := parseDay(s, "day", end)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A message stored after the build is found as soon as it is indexed,
// and counted once even when it comes twice (a cluster's follower and the
// start's read).
func TestSearchFollowsAppends(t *testing.T) {
	s := seed(t)
	conv := s.convs["shipping"]
	if _, err := s.st.Append(bg, conv, store.NewMessage{From: protocol.FromVisitor, Text: "my parcel is marmalade coloured"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new message indexed", func() bool {
		return slices.Equal(s.find(t, Query{Text: "marmalade"}), []string{"shipping"})
	})
	msgs, _ := s.st.Messages(conv, 0, 0)
	before, _ := s.svc.Search(Query{Text: "marmalade"}, 0, 1)
	s.svc.Deliver(msgs[len(msgs)-1])
	s.svc.Deliver(msgs[len(msgs)-1])
	waitFor(t, "the queue drained", func() bool { s.svc.qmu.Lock(); defer s.svc.qmu.Unlock(); return len(s.svc.queue) == 0 })
	after, _ := s.svc.Search(Query{Text: "marmalade"}, 0, 1)
	if before.Conversations[0].Score != after.Conversations[0].Score {
		t.Fatalf("a message indexed twice changed its score: %v → %v", before.Conversations[0].Score, after.Conversations[0].Score)
	}
}

// An erased conversation is never found again, its tags are gone from the
// store, and words only it had leave the index.
func TestErasedConversationsNeverFound(t *testing.T) {
	s := seed(t)
	svc := privacy.New(s.st, privacy.Options{Erasers: []privacy.Eraser{s.svc.Eraser()}})
	if got := s.find(t, Query{Text: "weeks"}); len(got) != 1 {
		t.Fatalf("before erasure: %q", got)
	}
	terms := s.svc.Index().Terms()
	if _, err := svc.Erase(bg, []string{s.vis["refund2"]}, "admin"); err != nil {
		t.Fatal(err)
	}
	// Checked before any search (a search also drops what it finds
	// erased in the store).
	if n := s.svc.Index().Terms(); n >= terms {
		t.Fatalf("terms %d → %d: the erased conversation's own words stayed in memory", terms, n)
	}
	if n := s.svc.Index().Len(); n != 5 {
		t.Fatalf("the index holds %d conversations after erasing one of 6", n)
	}
	for _, q := range []Query{{Text: "weeks"}, {Text: "refund"}, {Tags: []string{"vip"}}, {Agent: "bob"}, {}} {
		for _, name := range s.find(t, q) {
			if name == "refund2" {
				t.Fatalf("%+v found the erased conversation", q)
			}
		}
	}
	if got, err := store.ReadTags(s.st, s.convs["refund2"]); err != nil || got != nil {
		t.Fatalf("tags of the erased conversation: %q, %v", got, err)
	}
	if tags := s.svc.Index().TagsInUse(); len(tags) != 0 {
		t.Fatalf("tags in use after erasing the only tagged conversation: %v", tags)
	}
}

// A conversation erased where the index did not hear of it (another node
// erased it while this one was cut off) is dropped when a search finds it.
func TestErasedElsewhereDroppedOnSight(t *testing.T) {
	s := seed(t)
	if _, err := s.st.DeleteConversations(bg, []string{s.convs["shipping"]}); err != nil {
		t.Fatal(err)
	}
	if got := s.find(t, Query{Text: "shipping"}); len(got) != 0 {
		t.Fatalf("found %q", got)
	}
	if s.svc.Index().Len() != 5 {
		t.Fatalf("the index still holds %d conversations", s.svc.Index().Len())
	}
}

func TestChangeTags(t *testing.T) {
	s := seed(t)
	conv := s.convs["shipping"]
	by := store.Account{ID: "alice"}
	after, err := s.svc.ChangeTags(bg, conv, TagsChange{Add: []string{"Needs Follow Up", "vip"}}, by)
	if err != nil || !slices.Equal(after, []string{"needs-follow-up", "vip"}) {
		t.Fatalf("add: %q, %v", after, err)
	}
	if got := s.find(t, Query{Tags: []string{"vip"}}); len(got) != 2 {
		t.Fatalf("by tag after tagging: %q", got)
	}
	if in := s.svc.Index().TagsInUse(); len(in) != 3 || in[0] != (TagCount{"vip", 2}) {
		t.Fatalf("tags in use: %v", in)
	}
	evs, _, err := s.st.Events(bg, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var tagged []store.Event
	for _, ev := range evs {
		if ev.Type == store.EventTagged {
			tagged = append(tagged, ev)
		}
	}
	if len(tagged) != 1 || tagged[0].ConversationID != conv || !strings.Contains(string(tagged[0].Data), `"added":["needs-follow-up","vip"]`) {
		t.Fatalf("tagged events: %+v", tagged)
	}
	for _, tc := range []struct {
		conv string
		ch   TagsChange
		want error
	}{
		{conv, TagsChange{}, &protocol.Error{}},
		{conv, TagsChange{Add: []string{"no,commas"}}, &protocol.Error{}},
		{conv, TagsChange{Add: []string{strings.Repeat("x", 33)}}, &protocol.Error{}},
		{"nosuchconversat", TagsChange{Add: []string{"vip"}}, store.ErrNotFound},
	} {
		_, err := s.svc.ChangeTags(bg, tc.conv, tc.ch, by)
		var pe *protocol.Error
		if errors.As(tc.want, &pe) && !errors.As(err, &pe) || !errors.As(tc.want, &pe) && !errors.Is(err, tc.want) {
			t.Errorf("ChangeTags(%s, %+v) = %v, want %T %v", tc.conv, tc.ch, err, tc.want, tc.want)
		}
	}
	if got, _ := store.ReadTags(s.st, conv); !slices.Equal(got, []string{"needs-follow-up", "vip"}) {
		t.Fatalf("refused changes changed the tags: %q", got)
	}
}

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		query string
		err   string // "" for fine
	}{
		{"q=refund&tag=VIP&agent=alice&from=2026-01-01&to=2026-01-31&offset=20&limit=50", ""},
		{"", ""},
		{"from=2026-01-01T10:00:00Z", ""},
		{"q=%3F%21", "no words"},
		{"q=" + strings.Repeat("a", MaxQuery+1), "at most"},
		{"q=%ff", "UTF-8"},
		{"tag=a,b", "tag"},
		{"from=yesterday", "not a date"},
		{"to=2026-13-01", "not a date"},
		{"from=2026-02-01&to=2026-01-01", "before"},
		{"limit=0", "limit"},
		{"limit=101", "limit"},
		{"offset=-1", "offset"},
		{"offset=x", "offset"},
		{"text=refund", "unknown parameter"},
		{"status=closed&status=queued", ""},
		{"status=pending", "not one of open, bot, queued, agent, closed"},
	} {
		v, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		_, _, _, err = ParseQuery(v)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.query, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one saying %q", tc.query, err, tc.err)
		}
	}
	q, off, lim, _ := ParseQuery(url.Values{"q": {"x"}, "to": {"2026-01-31"}})
	if !q.To.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) || off != 0 || lim != DefaultLimit {
		t.Fatalf("to a day includes it: %v; offset %d limit %d", q.To, off, lim)
	}
}

func TestSearchWhileBuilding(t *testing.T) {
	svc := New(nil, Options{})
	_, err := svc.Search(Query{}, 0, 10)
	if !errors.Is(err, ErrBuilding) {
		t.Fatalf("before the build: %v", err)
	}
	if !strings.Contains(err.Error(), "0 of 0") {
		t.Fatalf("message: %v", err)
	}
}

// Pages of a result are slices of the whole, in the same order, and the
// total counts every match whatever the page.
func TestSearchPages(t *testing.T) {
	s := seed(t)
	for _, q := range []Query{{}, {Text: "refund"}, {Text: "s"}} {
		all, total := s.svc.Index().Search(q, 0, MaxLimit)
		if len(all) != total || total == 0 {
			t.Fatalf("%+v: %d hits, total %d", q, len(all), total)
		}
		var paged []string
		for off := 0; off < total+2; off += 2 {
			page, n := s.svc.Index().Search(q, off, 2)
			if n != total {
				t.Fatalf("%+v offset %d: total %d, want %d", q, off, n, total)
			}
			for _, h := range page {
				paged = append(paged, h.ID)
			}
		}
		var want []string
		for _, h := range all {
			want = append(want, h.ID)
		}
		if !slices.Equal(paged, want) {
			t.Fatalf("%+v: pages %q, whole %q", q, paged, want)
		}
	}
}

// A node of a cluster learns of messages from the stream, not of the
// conversation's changes: it reads the state again after a system line
// (every hand-off, assignment and close stores one) and works out a
// visitor's reopening itself, so status and agent filters hold there too.
func TestSearchStateFromTheStream(t *testing.T) {
	s := seed(t)
	node := New(s.st, Options{}) // fed only through Deliver, like a cluster node
	runBuilt(t, node)
	ids := func(q Query) []string {
		hits, _ := node.Index().Search(q, 0, MaxLimit)
		var out []string
		for _, h := range hits {
			out = append(out, h.ID)
		}
		return out
	}
	conv := s.convs["shipping"]
	deliver := func(nm store.NewMessage) {
		t.Helper()
		a, err := s.st.Append(bg, conv, nm)
		if err != nil {
			t.Fatal(err)
		}
		node.Deliver(a.Messages[0])
	}
	// Given to erin, who never writes; then closed.
	if _, err := s.st.UpdateConversation(bg, conv, func(c *store.Conversation) error { return store.Assign(c, "erin", "") }); err != nil {
		t.Fatal(err)
	}
	deliver(store.NewMessage{From: protocol.FromSystem, AuthorID: "erin", Text: "Erin joined the conversation"})
	waitFor(t, "erin's conversation found by agent and state", func() bool {
		return slices.Equal(ids(Query{Agent: "erin"}), []string{conv}) && slices.Contains(ids(Query{Status: []string{StateAgent}}), conv)
	})
	if _, err := s.st.UpdateConversation(bg, conv, store.Close); err != nil {
		t.Fatal(err)
	}
	deliver(store.NewMessage{From: protocol.FromSystem, Text: "The conversation was closed"})
	waitFor(t, "the closed state", func() bool { return slices.Contains(ids(Query{Status: []string{StateClosed}}), conv) })
	// The visitor writes again: open, with the bot (the store agrees).
	deliver(store.NewMessage{From: protocol.FromVisitor, Text: "one more question"})
	waitFor(t, "the reopened state", func() bool { return slices.Contains(ids(Query{Status: []string{StateBot}}), conv) })
	if c, _ := s.st.Conversation(conv); c.Status != store.StatusOpen || c.Handler != store.HandlerBot {
		t.Fatalf("the store says %s/%s", c.Status, c.Handler)
	}
	if got := ids(Query{Agent: "erin"}); !slices.Equal(got, []string{conv}) {
		t.Fatalf("erin had it once: %q", got)
	}
}

// Results of a search with words carry the message matched best, cut
// around the match, with the matched words apart; the text is the
// message's own (the console puts it in text nodes).
func TestSearchSnippets(t *testing.T) {
	s := seed(t)
	res, err := s.svc.Search(Query{Text: "refund wee"}, 0, 10)
	if err != nil || len(res.Conversations) != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	sn := res.Conversations[0].Snippet
	if sn == nil || sn.From != protocol.FromVisitor || sn.Seq != 1 {
		t.Fatalf("snippet %+v", sn)
	}
	if got := partsString(sn.Parts); got != "Where is my [REFUND]? It has been [weeks]" {
		t.Fatalf("parts %s", got)
	}
	res, _ = s.svc.Search(Query{Text: "訂單"}, 0, 10)
	if got := partsString(res.Conversations[0].Snippet.Parts); got != "我想退款，[訂單]還沒到" {
		t.Fatalf("CJK parts %s", got)
	}
	res, _ = s.svc.Search(Query{Agent: "alice"}, 0, 10)
	if res.Conversations[0].Snippet != nil {
		t.Fatal("a snippet for a search without words")
	}
}

func partsString(ps []Part) string {
	var b strings.Builder
	for _, p := range ps {
		if p.Match {
			b.WriteString("[" + p.Text + "]")
		} else {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

func TestSnippetCut(t *testing.T) {
	long := strings.Repeat("lorem ipsum dolor ", 20)
	for _, tc := range []struct {
		name, text, query, want string
	}{
		{"the best message, newest among equals", "", "", ""},
		{"marks every occurrence", "Refund? refund, REFUNDS later", "refund ", "[Refund]? [refund], REFUNDS later"},
		{"the last word is a prefix", "Refund? refund, REFUNDS later", "refund", "[Refund]? [refund], [REFUNDS] later"},
		{"accents and width folded, original kept", "Le café ＡＢＣ", "cafe abc", "Le [café] [ＡＢＣ]"},
		{"text around a late match cut at a word", long + "the needle here " + long, "needle ",
			"…ipsum dolor lorem ipsum dolor the [needle] here lorem ipsum dolor lorem ipsum dolor lorem ipsum dolor lorem ipsum dolor lorem ipsum dolor lorem ipsum dolor lorem ipsum dolor lorem…"},
		{"white space runs become one space", "a\n\n  refund\t\tnow", "refund ", "a [refund] now"},
		{"markup is only text", "<b>refund</b> <img src=x onerror=alert(1)>", "refund ", "<b>[refund]</b> <img src=x onerror=alert(1)>"},
	} {
		if tc.text == "" {
			msgs := []store.Message{
				{Seq: 1, From: protocol.FromVisitor, Text: "refund"},
				{Seq: 2, From: protocol.FromAgent, Text: "refund order"},
				{Seq: 3, From: protocol.FromSystem, Text: "refund order joined"},
				{Seq: 4, From: protocol.FromBot, Text: "order refund"},
				{Seq: 5, From: protocol.FromVisitor, Text: "order"},
			}
			if sn := snippetOf(msgs, newMatcher("refund order ")); sn == nil || sn.Seq != 4 {
				t.Errorf("%s: %+v", tc.name, sn)
			}
			if sn := snippetOf(msgs, newMatcher("zebra ")); sn != nil {
				t.Errorf("no match: %+v", sn)
			}
			continue
		}
		text := strings.NewReplacer("\\n", "\n", "\\t", "\t").Replace(tc.text)
		sn := snippetOf([]store.Message{{Seq: 1, From: protocol.FromVisitor, Text: text}}, newMatcher(tc.query))
		if sn == nil {
			t.Errorf("%s: no snippet", tc.name)
			continue
		}
		if got := partsString(sn.Parts); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// A message stored after a quiet spell is searchable at once; the ones
// stored within Refresh of an indexing wait for the next (a burst is
// indexed in one go after it, not append by append while it lasts).
func TestBurstWaitsForTheNextRefresh(t *testing.T) {
	t.Parallel()
	const refresh = 2 * time.Second
	var svc *Service
	st := indexedStore(t, &svc)
	_, conv, err := st.CreateVisitor(bg, storetest.TokenHash("burst"), "")
	if err != nil {
		t.Fatal(err)
	}
	svc = New(st, Options{Refresh: refresh})
	runBuilt(t, svc)
	found := func(word string) bool {
		res, err := svc.Search(Query{Text: word}, 0, 1)
		return err == nil && res.Total == 1
	}
	say := func(text string) time.Time {
		t.Helper()
		at := time.Now()
		if _, err := st.Append(bg, conv.ID, store.NewMessage{From: protocol.FromVisitor, Text: text}); err != nil {
			t.Fatal(err)
		}
		return at
	}

	first := say("aardvark")
	waitFor(t, "the first message indexed", func() bool { return found("aardvark") })
	// The indexing that found it began after first: the next one begins
	// refresh after it at the soonest.
	say("bumblebee")
	say("capybara")
	waitFor(t, "the burst indexed", func() bool { return found("capybara") })
	burst := time.Now()
	if !found("bumblebee") {
		t.Fatal("the burst's first message is not indexed with its last")
	}
	if waited := burst.Sub(first); waited < refresh {
		t.Fatalf("the burst was indexed %v after the first message; want at least the refresh, %v", waited, refresh)
	}

	// After a quiet spell longer than refresh, a message does not wait.
	waitFor(t, "a quiet spell", func() bool { return time.Since(burst) > refresh })
	lone := say("dugong")
	waitFor(t, "the lone message indexed", func() bool { return found("dugong") })
	if took := time.Since(lone); took >= refresh {
		t.Fatalf("a message after a quiet spell waited %v to be searchable; want less than the refresh, %v", took, refresh)
	}
}

// A long queue is indexed whole, in order, through the pauses that let
// the network in.
func TestLongQueueIndexedWhole(t *testing.T) {
	st, err := boltdb.Open(t.TempDir(), boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := New(st, Options{})
	const n = 3000
	for i := range n {
		svc.Deliver(store.Message{ConversationID: fmt.Sprintf("c%04d", i), Seq: 1, From: protocol.FromVisitor, Text: fmt.Sprintf("parcel number w%04d", i), Time: time.Now()})
	}
	start := time.Now()
	svc.drain()
	if time.Since(start) < indexSlice {
		t.Logf("the queue took %v: no pause was needed", time.Since(start))
	}
	if got := svc.idx.Len(); got != n {
		t.Fatalf("indexed %d conversations of %d", got, n)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		hits, total := svc.idx.Search(Query{Text: fmt.Sprintf("w%04d", i)}, 0, 10)
		if total != 1 || hits[0].ID != fmt.Sprintf("c%04d", i) {
			t.Fatalf("w%04d: %d hits %+v, want c%04d alone", i, total, hits, i)
		}
	}
}
