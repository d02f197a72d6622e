package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// OutboxStore is a store that keeps an event log written in the same
// commit as its causes, and the notifiers' documents (webhooks, mail,
// push): the relay's backends.
type OutboxStore interface {
	EraseStore
	Events(ctx context.Context, after uint64, limit int) ([]store.Event, uint64, error)
	LastEventPos(ctx context.Context) (uint64, error)
	Emit(ctx context.Context, convID, typ string, data any) error
	PruneEvents(ctx context.Context, upTo uint64) (int, error)
	FlushEvents(ctx context.Context) (int, error)
	Doc(kind, key string) (store.Doc, error)
	PutDoc(ctx context.Context, kind, key string, data []byte, rev uint64) (uint64, error)
	DeleteDoc(ctx context.Context, kind, key string, rev uint64) error
	Docs(kind string) ([]store.Doc, error)
}

// Outbox runs the checks of the event log and the documents.
func Outbox[S OutboxStore](t *testing.T, b Backend[S]) {
	g := b.group(t)
	defer g.wait()
	g.run("EventsOfALife", func(t *testing.T) { testEventsOfALife(t, b) })
	g.run("NoEventsWithoutAChange", func(t *testing.T) { testNoEventsWithoutChange(t, b) })
	g.run("EventsFromPeersOncePerCause", func(t *testing.T) { testEventsFromPeers(t, b) })
	g.run("EventsPagedAndPruned", func(t *testing.T) { testEventsPaged(t, b) })
	g.run("EventsErased", func(t *testing.T) { testEventsErased(t, b) })
	g.run("Emit", func(t *testing.T) { testEmit(t, b) })
	g.run("Docs", func(t *testing.T) { testDocs(t, b) })
	g.run("DocsCompareAndSet", func(t *testing.T) { testDocsCAS(t, b) })
}

// allEvents reads the whole log after pos, in pages of 3 (to cross page
// boundaries), checking positions grow.
func allEvents(t *testing.T, s OutboxStore, after uint64) []store.Event {
	t.Helper()
	var out []store.Event
	for {
		evs, last, err := s.Events(bg, after, 3)
		if err != nil {
			t.Fatalf("Events(%d): %v", after, err)
		}
		for _, ev := range evs {
			if ev.Pos <= after {
				t.Fatalf("event at %d read after %d", ev.Pos, after)
			}
			after = ev.Pos
			out = append(out, ev)
		}
		if last < after {
			t.Fatalf("Events says it read up to %d, but returned %d", last, after)
		}
		if last == after && len(evs) == 0 {
			return out
		}
		after = last
	}
}

// eventsOf keeps the events of one conversation.
func eventsOf(evs []store.Event, convID string) []store.Event {
	var out []store.Event
	for _, ev := range evs {
		if ev.ConversationID == convID {
			out = append(out, ev)
		}
	}
	return out
}

// describe is an event as "type" or "message.created:text".
func describe(evs []store.Event) string {
	var parts []string
	for _, ev := range evs {
		if ev.Message != nil {
			parts = append(parts, ev.Type+":"+ev.Message.Text)
		} else {
			parts = append(parts, ev.Type)
		}
	}
	return strings.Join(parts, " ")
}

func testEventsOfALife[S OutboxStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	appendMsg := func(from, text string) {
		t.Helper()
		if _, err := s.Append(bg, c.ID, store.NewMessage{From: from, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	update := func(fn func(*store.Conversation) error) {
		t.Helper()
		if _, err := s.UpdateConversation(bg, c.ID, fn); err != nil {
			t.Fatal(err)
		}
	}
	appendMsg("visitor", "I need a person")
	update(store.HandOff)
	appendMsg("system", "Connecting you")
	update(func(c *store.Conversation) error { return store.Assign(c, "a1", store.HandlerQueue) })
	appendMsg("agent", "Hello, Mei here")
	update(func(c *store.Conversation) error { return store.Assign(c, "a2", "") })
	update(store.Requeue)
	update(func(c *store.Conversation) error { return store.Assign(c, "a1", "") })
	update(store.Close)
	appendMsg("visitor", "One more thing")
	if err := s.Emit(bg, c.ID, store.EventRated, map[string]any{"score": 5}); err != nil {
		t.Fatal(err)
	}

	evs := eventsOf(allEvents(t, s, 0), c.ID)
	want := "conversation.created message.created:I need a person conversation.handed_off message.created:Connecting you " +
		"conversation.assigned message.created:Hello, Mei here conversation.assigned conversation.requeued conversation.assigned " +
		"conversation.closed message.created:One more thing conversation.reopened conversation.rated"
	if got := describe(evs); got != want {
		t.Fatalf("events of the conversation:\n got %s\nwant %s", got, want)
	}
	ids := map[string]bool{}
	for i, ev := range evs {
		if ids[ev.ID] || ev.ID == "" {
			t.Errorf("event %d (%s) has id %q, empty or seen before", i, ev.Type, ev.ID)
		}
		ids[ev.ID] = true
		if ev.Time.IsZero() {
			t.Errorf("event %d (%s) has no time", i, ev.Type)
		}
		switch {
		case ev.Message != nil:
			if ev.ID != store.MessageEventID(c.ID, ev.Message.Seq) || ev.Message.ConversationID != c.ID {
				t.Errorf("message event %q for %+v", ev.ID, ev.Message)
			}
		case ev.Conversation == nil:
			t.Errorf("event %d (%s) has no conversation", i, ev.Type)
		case ev.Conversation.Preview != "":
			t.Errorf("event %d (%s) keeps the preview %q", i, ev.Type, ev.Conversation.Preview)
		}
	}
	// The state each event reports is the state right after it.
	at := func(i int) string {
		cv := evs[i].Conversation
		return cv.Status + "/" + cv.Handler + "/" + cv.AgentID
	}
	for i, want := range map[int]string{0: "open/bot/", 2: "open/queue/", 4: "open/agent/a1", 6: "open/agent/a2", 7: "open/queue/", 9: "closed/agent/a1", 11: "open/bot/"} {
		if got := at(i); got != want {
			t.Errorf("%s reports %s, want %s", evs[i].Type, got, want)
		}
	}
	var data struct{ Score int }
	if err := json.Unmarshal(evs[12].Data, &data); err != nil || data.Score != 5 {
		t.Errorf("rated event data %s (%v), want score 5", evs[12].Data, err)
	}
}

func testNoEventsWithoutChange[S OutboxStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	if _, err := s.Append(bg, c.ID, store.NewMessage{ClientID: "m1", From: "visitor", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	before := allEvents(t, s, 0)
	pos := before[len(before)-1].Pos
	// A resend, a refused transition, an update that fails and one that
	// changes nothing an event is about.
	if _, err := s.Append(bg, c.ID, store.NewMessage{ClientID: "m1", From: "visitor", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateConversation(bg, c.ID, store.Requeue); err != nil {
		t.Fatal(err) // bot → queue by requeue: a hand-off in all but name
	}
	if _, err := s.UpdateConversation(bg, c.ID, store.HandOff); !errors.Is(err, store.ErrNotBot) {
		t.Fatalf("second hand-off: %v", err)
	}
	if _, err := s.UpdateConversation(bg, c.ID, func(*store.Conversation) error { return errors.New("no") }); err == nil {
		t.Fatal("a failing update succeeded")
	}
	if _, err := s.UpdateConversation(bg, c.ID, func(*store.Conversation) error { return nil }); err != nil {
		t.Fatal(err)
	}
	after := allEvents(t, s, pos)
	if got := describe(after); got != "conversation.handed_off" {
		t.Errorf("events after the first message: %q, want the one hand-off", got)
	}
}

// testEventsFromPeers appends and updates through several stores (nodes)
// at once: every message's event is in the log exactly once, each
// conversation's messages in seq order.
func testEventsFromPeers[S OutboxStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	const writers, each = 3, 12
	stores := []S{s}
	for range writers - 1 {
		stores = append(stores, peer(t, b, s))
	}
	_, c1 := NewVisitor(t, s)
	_, c2 := NewVisitor(t, stores[len(stores)-1])
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*2)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				conv := c1.ID
				if i%2 == 1 {
					conv = c2.ID
				}
				if _, err := stores[w].Append(bg, conv, store.NewMessage{From: "visitor", Text: fmt.Sprintf("w%d-%d", w, i)}); err != nil {
					errs <- err
				}
				if w == 0 && i == each/2 {
					if _, err := stores[w].UpdateConversation(bg, c1.ID, store.HandOff); err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	evs := allEvents(t, stores[1], 0)
	for _, conv := range []string{c1.ID, c2.ID} {
		var seqs []uint64
		handoffs := 0
		for _, ev := range eventsOf(evs, conv) {
			switch {
			case ev.Message != nil:
				seqs = append(seqs, ev.Message.Seq)
			case ev.Type == store.EventHandedOff:
				handoffs++
			}
		}
		for i, seq := range seqs {
			if seq != uint64(i+1) {
				t.Fatalf("conversation %s: message events in seq order %v, want 1..%d once each", conv, seqs, writers*each/2)
			}
		}
		if len(seqs) != writers*each/2 {
			t.Errorf("conversation %s: %d message events, want %d", conv, len(seqs), writers*each/2)
		}
		if want := map[string]int{c1.ID: 1, c2.ID: 0}[conv]; handoffs != want {
			t.Errorf("conversation %s: %d hand-off events, want %d", conv, handoffs, want)
		}
	}
}

func testEventsPaged[S OutboxStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	for i := range 7 {
		if _, err := s.Append(bg, c.ID, store.NewMessage{From: "visitor", Text: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	evs := eventsOf(allEvents(t, s, 0), c.ID)
	if len(evs) != 8 {
		t.Fatalf("%d events, want created and 7 messages: %s", len(evs), describe(evs))
	}
	first, _, err := s.Events(bg, 0, 2)
	if err != nil || len(first) != 2 {
		t.Fatalf("Events(0, 2) = %d events, %v", len(first), err)
	}
	// Pruning what a reader passed keeps everything after it.
	mid := evs[4].Pos
	if _, err := s.PruneEvents(bg, mid); err != nil {
		t.Fatal(err)
	}
	rest := eventsOf(allEvents(t, s, mid), c.ID)
	if got, want := describe(rest), describe(evs[5:]); got != want {
		t.Errorf("after pruning up to %d: %s, want %s", mid, got, want)
	}
	if _, err := s.Append(bg, c.ID, store.NewMessage{From: "visitor", Text: "later"}); err != nil {
		t.Fatal(err)
	}
	newer := allEvents(t, s, evs[len(evs)-1].Pos)
	if got := describe(newer); got != "message.created:later" {
		t.Errorf("after pruning, a new message reads as %q", got)
	}
	if none, last, err := s.Events(bg, newer[0].Pos, 10); err != nil || len(none) != 0 || last != newer[0].Pos {
		t.Errorf("Events at the end = %d events, last %d, %v; want none, %d", len(none), last, err, newer[0].Pos)
	}
	if end, err := s.LastEventPos(bg); err != nil || end != newer[0].Pos {
		t.Errorf("LastEventPos = %d, %v; want %d", end, err, newer[0].Pos)
	}
	if n, err := s.FlushEvents(bg); err != nil || n != 0 {
		t.Errorf("FlushEvents with nothing left behind = %d, %v", n, err)
	}
}

func testEventsErased[S OutboxStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, gone := NewVisitor(t, s)
	_, kept := NewVisitor(t, s)
	for _, c := range []string{gone.ID, kept.ID} {
		if _, err := s.Append(bg, c, store.NewMessage{From: "visitor", Text: "secret words of " + c}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateConversation(bg, c, store.HandOff); err != nil {
			t.Fatal(err)
		}
		if err := s.Emit(bg, c, store.EventRated, map[string]string{"comment": "comment of " + c}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteConversations(bg, []string{gone.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteVisitors(bg, []string{gone.VisitorID}); err != nil {
		t.Fatal(err)
	}
	evs := allEvents(t, s, 0)
	if left := eventsOf(evs, gone.ID); len(left) != 0 {
		t.Errorf("events of an erased conversation are still read: %s", describe(left))
	}
	if got := describe(eventsOf(evs, kept.ID)); got != "conversation.created message.created:secret words of "+kept.ID+" conversation.handed_off conversation.rated" {
		t.Errorf("events of the other conversation: %s", got)
	}
}

func testEmit[S OutboxStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	if err := s.Emit(bg, "nosuchconversat", store.EventRated, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Emit on an unknown conversation: %v, want ErrNotFound", err)
	}
	for _, typ := range []string{"", "conversation.exploded", store.EventMessageCreated} {
		if err := s.Emit(bg, c.ID, typ, nil); err == nil {
			t.Errorf("Emit(%q) succeeded", typ)
		}
	}
	if err := s.Emit(bg, c.ID, store.EventRated, map[string]string{"comment": strings.Repeat("x", store.MaxEventData)}); err == nil {
		t.Error("Emit with data over MaxEventData succeeded")
	}
	if err := s.Emit(bg, c.ID, store.EventRated, nil); err != nil {
		t.Fatal(err)
	}
	got := describe(eventsOf(allEvents(t, s, 0), c.ID))
	if got != "conversation.created conversation.rated" {
		t.Errorf("events: %s", got)
	}
}

func testDocs[S OutboxStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	if _, err := s.Doc("mail", "m1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Doc of nothing: %v", err)
	}
	rev, err := s.PutDoc(bg, "mail", "m1", []byte(`{"to":"a@example.com"}`), 0)
	if err != nil || rev == 0 {
		t.Fatalf("create: rev %d, %v", rev, err)
	}
	if _, err := s.PutDoc(bg, "mail", "m1", []byte(`{}`), 0); !errors.Is(err, store.ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
	if _, err := s.PutDoc(bg, "mail", "m2", []byte(`{}`), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutDoc(bg, "cursor", "m1", []byte(`7`), 0); err != nil {
		t.Fatal(err) // same key, other kind
	}
	rev2, err := s.PutDoc(bg, "mail", "m1", []byte(`{"to":"b@example.com"}`), rev)
	if err != nil || rev2 == rev {
		t.Fatalf("update: rev %d → %d, %v", rev, rev2, err)
	}
	if _, err := s.PutDoc(bg, "mail", "m1", []byte(`{}`), rev); !errors.Is(err, store.ErrConflict) {
		t.Errorf("update at a stale revision: %v, want ErrConflict", err)
	}
	d, err := s.Doc("mail", "m1")
	if err != nil || d.Rev != rev2 || string(d.Data) != `{"to":"b@example.com"}` || d.Key != "m1" {
		t.Errorf("Doc = %+v %s, %v", d, d.Data, err)
	}
	list, err := s.Docs("mail")
	if err != nil || len(list) != 2 || list[0].Key != "m1" || list[1].Key != "m2" || list[0].Rev != rev2 {
		t.Errorf("Docs(mail) = %+v, %v; want m1 (rev %d) and m2", list, err, rev2)
	}
	if err := s.DeleteDoc(bg, "mail", "m1", rev); !errors.Is(err, store.ErrConflict) {
		t.Errorf("delete at a stale revision: %v, want ErrConflict", err)
	}
	if err := s.DeleteDoc(bg, "mail", "m1", rev2); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDoc(bg, "mail", "m1", 0); err != nil {
		t.Errorf("deleting what is gone: %v", err)
	}
	if err := s.DeleteDoc(bg, "mail", "m2", 0); err != nil {
		t.Fatal(err)
	}
	if list, err := s.Docs("mail"); err != nil || len(list) != 0 {
		t.Errorf("Docs(mail) after deleting both = %+v, %v", list, err)
	}
	if d, err := s.Doc("cursor", "m1"); err != nil || string(d.Data) != "7" {
		t.Errorf("the other kind's document: %s, %v", d.Data, err)
	}
	// A deleted document can be made again, with a revision never given before.
	again, err := s.PutDoc(bg, "mail", "m1", []byte(`{}`), 0)
	if err != nil || again <= rev2 {
		t.Errorf("re-created at rev %d after %d: %v", again, rev2, err)
	}
	for _, k := range [][2]string{{"", "a"}, {"mail", ""}, {"mail", "a.b"}, {"mail", "a/b"}, {"ma il", "a"}, {"mail", strings.Repeat("k", 65)}} {
		if _, err := s.PutDoc(bg, k[0], k[1], []byte(`{}`), 0); err == nil {
			t.Errorf("PutDoc(%q, %q) accepted a bad name", k[0], k[1])
		}
	}
}

// testDocsCAS increments one counter from several stores at once with
// compare-and-set: no increment is lost.
func testDocsCAS[S OutboxStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	if _, err := s.PutDoc(bg, "cursor", "n", []byte("0"), 0); err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		st := s
		if w > 0 {
			st = peer(t, b, s)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				for {
					d, err := st.Doc("cursor", "n")
					if err != nil {
						errs <- err
						return
					}
					var n int
					json.Unmarshal(d.Data, &n)
					_, err = st.PutDoc(bg, "cursor", "n", fmt.Append(nil, n+1), d.Rev)
					if errors.Is(err, store.ErrConflict) {
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	d, err := s.Doc("cursor", "n")
	if err != nil || string(d.Data) != fmt.Sprint(writers*each) {
		t.Errorf("counter = %s, %v; want %d", d.Data, err, writers*each)
	}
}
