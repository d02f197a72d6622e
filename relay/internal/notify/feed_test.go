package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream/natstest"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
)

var bg = context.Background()

type testStore interface {
	storetest.OutboxStore
	Log
}

// onBoth runs fn on a real bbolt file and on a JetStream server in the
// test process.
func onBoth(t *testing.T, fn func(t *testing.T, st testStore, wake *Waker)) {
	t.Run("bbolt", func(t *testing.T) {
		w := &Waker{}
		st, err := boltdb.Open(t.TempDir(), boltdb.Options{OnEvents: w.Kick})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st, w)
	})
	t.Run("jetstream", func(t *testing.T) {
		c := natstest.Run(t, natstest.Options{})
		st, err := jetstream.Open(bg, c.Connect(0), jetstream.Options{Timeout: 45 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st, nil) // no waker: polling finds the events
	})
}

// recorder is a handler that keeps what it was given and fails once on
// the text "boom".
type recorder struct {
	mu     sync.Mutex
	got    []string
	failed bool
}

func (r *recorder) handle(_ context.Context, ev store.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	text := ""
	if ev.Message != nil {
		text = ev.Message.Text
	}
	if text == "boom" && !r.failed {
		r.failed = true
		return errors.New("receiver down")
	}
	r.got = append(r.got, ev.Type+":"+text)
	return nil
}

func (r *recorder) seen() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.got, " ")
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

// A reader made now starts at the end of the log; it gets what is
// committed after, in order; a failing handler stops it on the event, and
// the next run resumes there; the housekeeper prunes what every reader
// passed, and no more.
func TestFeed(t *testing.T) {
	onBoth(t, func(t *testing.T, st testStore, wake *Waker) {
		_, old := storetest.NewVisitor(t, st)
		if _, err := st.Append(bg, old.ID, store.NewMessage{From: "visitor", Text: "before the reader"}); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadCursor(bg, st, "r1"); err != nil {
			t.Fatal(err)
		}
		_, c := storetest.NewVisitor(t, st)
		for _, text := range []string{"one", "boom", "two"} {
			if _, err := st.Append(bg, c.ID, store.NewMessage{From: "visitor", Text: text}); err != nil {
				t.Fatal(err)
			}
		}
		rec := &recorder{}
		f := &Feed{Log: st, Name: "r1", Wake: wake, Poll: 20 * time.Millisecond}
		ctx, cancel := context.WithTimeout(bg, 30*time.Second)
		defer cancel()
		if err := f.Run(ctx, rec.handle); err == nil || !strings.Contains(err.Error(), "receiver down") {
			t.Fatalf("Run = %v, want the handler's error", err)
		}
		if got := rec.seen(); got != "conversation.created: message.created:one" {
			t.Fatalf("before the failure: %q", got)
		}
		// The housekeeper keeps everything from the failed event on.
		h := &Housekeeper{Log: st}
		if err := h.Once(bg); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- f.Run(ctx, rec.handle) }()
		waitFor(t, "the rest", func() bool { return strings.HasSuffix(rec.seen(), "message.created:two") })
		if _, err := st.Append(bg, c.ID, store.NewMessage{From: "agent", Text: "three"}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a later event", func() bool { return strings.HasSuffix(rec.seen(), "message.created:three") })
		cancel()
		<-done
		if got := rec.seen(); got != "conversation.created: message.created:one message.created:boom message.created:two message.created:three" {
			t.Errorf("handled %q", got)
		}
		cur, err := LoadCursor(bg, st, "r1")
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Once(bg); err != nil {
			t.Fatal(err)
		}
		left, _, err := st.Events(bg, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range left {
			if ev.Pos < cur.Pos && ev.Type != store.EventMessageCreated {
				// Messages are the conversation's own records (JetStream:
				// its stream); the rest of the log is pruned.
				t.Errorf("event %s at %d kept; the reader is at %d", ev.Type, ev.Pos, cur.Pos)
			}
		}
	})
}

// Kick wakes every waiter and never blocks.
func TestWaker(t *testing.T) {
	w := &Waker{}
	a, b := w.C(), w.C()
	w.Kick()
	w.Kick()
	for _, ch := range []<-chan struct{}{a, b} {
		select {
		case <-ch:
		default:
			t.Fatal("a waiter was not woken")
		}
	}
	select {
	case <-w.C():
		t.Fatal("a new waiter is woken before the next kick")
	default:
	}
}

// A reader that keeps its position elsewhere (mail) keeps the events after
// it; one that cannot say where it is keeps them all.
func TestHousekeeperKeepsOtherReaders(t *testing.T) {
	onBoth(t, func(t *testing.T, st testStore, _ *Waker) {
		_, c := storetest.NewVisitor(t, st)
		if _, err := st.UpdateConversation(bg, c.ID, store.HandOff); err != nil {
			t.Fatal(err)
		}
		all, _, err := st.Events(bg, 0, 0)
		if err != nil || len(all) < 2 {
			t.Fatalf("events %d, %v", len(all), err)
		}
		count := func() int {
			evs, _, err := st.Events(bg, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			return len(evs)
		}
		broken := &Housekeeper{Log: st, Readers: []func() (uint64, bool, error){func() (uint64, bool, error) { return 0, false, errors.New("unreadable") }}}
		if err := broken.Once(bg); err == nil || count() != len(all) {
			t.Errorf("a reader that failed to say: %v, %d of %d events left", err, count(), len(all))
		}
		behind := &Housekeeper{Log: st, Readers: []func() (uint64, bool, error){func() (uint64, bool, error) { return all[0].Pos, true, nil }}}
		if err := behind.Once(bg); err != nil {
			t.Fatal(err)
		}
		left, _, _ := st.Events(bg, all[0].Pos, 0)
		if len(left) != len(all)-1 {
			t.Errorf("after a reader at the first event, %d events left after it, want %d", len(left), len(all)-1)
		}
		gone := &Housekeeper{Log: st}
		if err := gone.Once(bg); err != nil {
			t.Fatal(err)
		}
		if n := count(); n >= len(all) {
			t.Errorf("with no reader, %d of %d events kept", n, len(all))
		}
	})
}

// countingLog counts the positions a reader stores.
type countingLog struct {
	Log
	mu    sync.Mutex
	saves int
}

func (l *countingLog) PutDoc(ctx context.Context, kind, key string, data []byte, rev uint64) (uint64, error) {
	if kind == KindCursor {
		l.mu.Lock()
		l.saves++
		l.mu.Unlock()
	}
	return l.Log.PutDoc(ctx, kind, key, data, rev)
}

func (l *countingLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.saves
}

// A reader that wants few events is given only those, stores its
// position after each of them, and past the rest once per batch read —
// not once per event — and a run after that starts past both.
func TestFeedWants(t *testing.T) {
	onBoth(t, func(t *testing.T, st testStore, wake *Waker) {
		if _, err := LoadCursor(bg, st, "r1"); err != nil {
			t.Fatal(err)
		}
		_, c := storetest.NewVisitor(t, st)
		texts := []string{"a", "b", "want 1", "c", "d", "e", "want 2", "f", "g", "h", "i", "j"}
		for _, text := range texts {
			if _, err := st.Append(bg, c.ID, store.NewMessage{From: "visitor", Text: text}); err != nil {
				t.Fatal(err)
			}
		}
		_, end, err := st.Events(bg, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		log := &countingLog{Log: st}
		rec := &recorder{}
		wants := func(ev store.Event) bool { return ev.Message != nil && strings.HasPrefix(ev.Message.Text, "want") }
		f := &Feed{Log: log, Name: "r1", Wake: wake, Poll: 20 * time.Millisecond, Batch: 100, Wants: wants}
		ctx, cancel := context.WithTimeout(bg, 30*time.Second)
		done := make(chan error, 1)
		go func() { done <- f.Run(ctx, rec.handle) }()
		waitFor(t, "the position past the last event", func() bool {
			cur, err := LoadCursor(bg, st, "r1")
			return err == nil && cur.Pos >= end
		})
		cancel()
		<-done
		if got := rec.seen(); got != "message.created:want 1 message.created:want 2" {
			t.Fatalf("handled %q", got)
		}
		// One save for the batch (SaveEvery); a save per event would be
		// 13 or more.
		if n := log.count(); n > 4 {
			t.Errorf("%d positions stored for %d events, 2 of them wanted", n, len(texts)+1)
		}
		// A new run (as after a restart) hands nothing again.
		if _, err := st.Append(bg, c.ID, store.NewMessage{From: "visitor", Text: "want 3"}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel = context.WithTimeout(bg, 30*time.Second)
		defer cancel()
		go func() { done <- f.Run(ctx, rec.handle) }()
		waitFor(t, "the later event", func() bool { return strings.HasSuffix(rec.seen(), "want 3") })
		cancel()
		<-done
		if got := rec.seen(); got != "message.created:want 1 message.created:want 2 message.created:want 3" {
			t.Errorf("after a new run: %q", got)
		}
	})
}

// behindLog answers its first reads of the cursor from a copy that has
// not caught up (a cluster's replica): not found, or the revision before.
type behindLog struct {
	Log
	mu     sync.Mutex
	behind int        // reads still answered from the old copy
	old    *store.Doc // the old copy (nil: it had no cursor yet)
}

func (l *behindLog) Doc(kind, key string) (store.Doc, error) {
	l.mu.Lock()
	if kind == KindCursor && l.behind > 0 {
		l.behind--
		old := l.old
		l.mu.Unlock()
		if old == nil {
			return store.Doc{}, store.ErrNotFound
		}
		return *old, nil
	}
	l.mu.Unlock()
	return l.Log.Doc(kind, key)
}

// A reader whose reads are behind its writes keeps the position that is
// stored: starting, it takes the stored one (never the log's end, which
// would skip what happened between them), and a save after a stale read
// tries again until it lands, instead of failing the relay's start.
func TestCursorWithReadsBehind(t *testing.T) {
	onBoth(t, func(t *testing.T, st testStore, _ *Waker) {
		if err := SaveCursor(bg, st, "r", Cursor{Pos: 7}); err != nil {
			t.Fatal(err)
		}
		c, err := LoadCursor(bg, &behindLog{Log: st, behind: 3}, "r")
		if err != nil || c.Pos != 7 {
			t.Fatalf("start with reads behind: %+v, %v; want the stored position 7", c, err)
		}
		d, err := st.Doc(KindCursor, "r")
		if err != nil {
			t.Fatal(err)
		}
		if err := SaveCursor(bg, st, "r", Cursor{Pos: 9}); err != nil {
			t.Fatal(err)
		}
		// More stale reads in a row than a save used to try.
		if err := SaveCursor(bg, &behindLog{Log: st, behind: 12, old: &d}, "r", Cursor{Pos: 11}); err != nil {
			t.Fatalf("save with reads behind: %v", err)
		}
		if c, err := LoadCursor(bg, st, "r"); err != nil || c.Pos != 11 {
			t.Fatalf("stored position %+v, %v; want 11", c, err)
		}
	})
}

// deadLog stands for a relay killed with kill -9: once dead, nothing it
// writes reaches the store.
type deadLog struct {
	*countingLog
	dead atomic.Bool
}

func (l *deadLog) PutDoc(ctx context.Context, kind, key string, data []byte, rev uint64) (uint64, error) {
	if l.dead.Load() {
		return 0, errors.New("the process is gone")
	}
	return l.countingLog.PutDoc(ctx, kind, key, data, rev)
}

// feedRun runs f in the background; stop cancels it and waits.
func feedRun(t *testing.T, f *Feed, h Handler) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg, time.Minute)
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx, h) }()
	return func() error {
		cancel()
		return <-done
	}
}

// messages appends texts to a new conversation one at a time, each after
// rec has the one before: a reader woken for every event, as in a burst
// of questions arriving one per millisecond.
func messages(t *testing.T, st testStore, rec *recorder, convID string, texts ...string) {
	t.Helper()
	for _, text := range texts {
		if _, err := st.Append(bg, convID, store.NewMessage{From: "visitor", Text: text}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, text, func() bool { return strings.HasSuffix(rec.seen(), ":"+text) })
	}
}

// A reader stores its position at most once per SaveEvery while events
// come one by one (the first at once, after a quiet spell), and where it
// got to when it stops.
func TestFeedSavesAtMostEverySaveEvery(t *testing.T) {
	onBoth(t, func(t *testing.T, st testStore, wake *Waker) {
		if _, err := LoadCursor(bg, st, "r"); err != nil {
			t.Fatal(err)
		}
		log := &countingLog{Log: st}
		rec := &recorder{}
		onlyMessages := func(ev store.Event) bool { return ev.Type == store.EventMessageCreated }
		f := &Feed{Log: log, Name: "r", Wake: wake, Poll: 20 * time.Millisecond, SaveEvery: time.Hour, Wants: onlyMessages}
		stop := feedRun(t, f, rec.handle)
		var texts []string
		for i := range 20 {
			texts = append(texts, fmt.Sprint("m", i))
		}
		_, c := storetest.NewVisitor(t, st)
		messages(t, st, rec, c.ID, texts...)
		if n := log.count(); n > 1 {
			t.Errorf("%d positions stored for 20 events in a SaveEvery of an hour, want at most 1", n)
		}
		if err := stop(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v", err)
		}
		_, end, err := st.Events(bg, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := LoadCursor(bg, st, "r"); err != nil || c.Pos != end {
			t.Errorf("stopped at %+v, %v; want the end of the log, %d", c, err, end)
		}
		if n := log.count(); n > 2 {
			t.Errorf("%d positions stored, want at most 2 (the first event, the stop)", n)
		}
	})
}

// A reader killed before it stored its position hands the events it
// handled since its last save again after a restart, and skips none.
func TestFeedKilledHandsAgainNeverSkips(t *testing.T) {
	onBoth(t, func(t *testing.T, st testStore, wake *Waker) {
		if _, err := LoadCursor(bg, st, "r"); err != nil {
			t.Fatal(err)
		}
		log := &deadLog{countingLog: &countingLog{Log: st}}
		rec := &recorder{}
		onlyMessages := func(ev store.Event) bool { return ev.Type == store.EventMessageCreated }
		f := &Feed{Log: log, Name: "r", Wake: wake, Poll: 20 * time.Millisecond, SaveEvery: time.Hour, Wants: onlyMessages}
		stop := feedRun(t, f, rec.handle)
		_, c := storetest.NewVisitor(t, st)
		_, end, err := st.Events(bg, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		// The conversation's creation, the first event after a quiet
		// spell, is stored at once.
		waitFor(t, "the first position stored", func() bool {
			cur, err := LoadCursor(bg, st, "r")
			return err == nil && cur.Pos >= end
		})
		messages(t, st, rec, c.ID, "a", "b", "c")
		log.dead.Store(true) // kill -9: the stop's save never lands
		stop()

		again := &recorder{}
		f = &Feed{Log: st, Name: "r", Wake: wake, Poll: 20 * time.Millisecond, Wants: onlyMessages}
		stop = feedRun(t, f, again.handle)
		defer stop()
		messages(t, st, again, c.ID, "d")
		// a, b and c were handled within SaveEvery of that save, not
		// stored: handed again, then d.
		if got := again.seen(); got != "message.created:a message.created:b message.created:c message.created:d" {
			t.Errorf("after the kill: %q, want a, b, c, d", got)
		}
	})
}

// A position stored ahead while a reader runs (an admin skipped the event
// a webhook is stuck at) is not moved back by the reader's own save.
func TestFeedNeverMovesThePositionBack(t *testing.T) {
	onBoth(t, func(t *testing.T, st testStore, wake *Waker) {
		if _, err := LoadCursor(bg, st, "r"); err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		f := &Feed{Log: st, Name: "r", Wake: wake, Poll: 20 * time.Millisecond, SaveEvery: time.Hour}
		stop := feedRun(t, f, rec.handle)
		_, c := storetest.NewVisitor(t, st)
		messages(t, st, rec, c.ID, "a", "b")
		_, end, err := st.Events(bg, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		ahead := Cursor{Pos: end + 1000}
		if err := SaveCursor(bg, st, "r", ahead); err != nil {
			t.Fatal(err)
		}
		stop()
		if c, err := LoadCursor(bg, st, "r"); err != nil || c != ahead {
			t.Errorf("after the reader stopped: %+v, %v; want %+v", c, err, ahead)
		}
	})
}

// A reader that never looks at a message (push) reads the log without
// them where the store can (bbolt: no read and decode per message), and
// is handed the same events, in the same order, as one that reads them.
func TestFeedNoMessages(t *testing.T) {
	onBoth(t, func(t *testing.T, st testStore, wake *Waker) {
		for _, name := range []string{"heads", "whole"} {
			if _, err := LoadCursor(bg, st, name); err != nil {
				t.Fatal(err)
			}
		}
		_, c := storetest.NewVisitor(t, st)
		for _, text := range []string{"a", "b", "c"} {
			if _, err := st.Append(bg, c.ID, store.NewMessage{From: "visitor", Text: text}); err != nil {
				t.Fatal(err)
			}
		}
		_, end, err := st.Events(bg, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, heads := st.(HeadsLog)
		run := func(name string, noMessages bool) (types []string, withMessage int) {
			var mu sync.Mutex
			f := &Feed{Log: st, Name: name, Wake: wake, Poll: 20 * time.Millisecond, NoMessages: noMessages}
			ctx, cancel := context.WithTimeout(bg, 30*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- f.Run(ctx, func(_ context.Context, ev store.Event) error {
					mu.Lock()
					defer mu.Unlock()
					types = append(types, ev.Type)
					if ev.Message != nil {
						withMessage++
					}
					return nil
				})
			}()
			waitFor(t, name+"'s position past the last event", func() bool {
				cur, err := LoadCursor(bg, st, name)
				return err == nil && cur.Pos >= end
			})
			cancel()
			<-done
			mu.Lock()
			defer mu.Unlock()
			return types, withMessage
		}
		headTypes, headMsgs := run("heads", true)
		wholeTypes, wholeMsgs := run("whole", false)
		if strings.Join(headTypes, " ") != strings.Join(wholeTypes, " ") {
			t.Fatalf("without messages %q, with them %q", headTypes, wholeTypes)
		}
		if wholeMsgs != 3 {
			t.Fatalf("a reader of messages got %d of 3", wholeMsgs)
		}
		if heads && headMsgs != 0 {
			t.Fatalf("a reader of no messages got %d messages from a store that can leave them out", headMsgs)
		}
	})
}
