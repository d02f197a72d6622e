package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/egress"
	"github.com/kefuhq/kefu/relay/internal/mail"
	"github.com/kefuhq/kefu/relay/internal/notify"
	"github.com/kefuhq/kefu/relay/internal/push"
	"github.com/kefuhq/kefu/relay/internal/secret"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream/natstest"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
	"github.com/kefuhq/kefu/relay/internal/webhook"
)

// hookReceiver is a webhook receiver on loopback recording the event ids
// it accepted; while down is set it answers 503.
type hookReceiver struct {
	srv  *httptest.Server
	down atomic.Bool
	mu   sync.Mutex
	ids  []string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		if r.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		r.mu.Lock()
		r.ids = append(r.ids, req.Header.Get("Kefu-Event-Id"))
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

// waitUntil polls ok with a generous deadline (a loaded box).
func waitUntil(t *testing.T, what string, ok func() bool, why ...*string) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			for _, w := range why {
				t.Log(*w)
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runHooks starts a webhook service on st until the returned stop.
func runHooks(t *testing.T, st webhook.Store, key *secret.Key) (*webhook.Service, func()) {
	t.Helper()
	wake := &notify.Waker{}
	svc, err := webhook.New(st, webhook.Options{
		Egress: egress.Policy{AllowPrivate: true}, Key: key, Wake: wake, Poll: 20 * time.Millisecond,
		FirstRetry: 5 * time.Millisecond, MaxRetry: 20 * time.Millisecond, GiveUpAfter: time.Hour,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return svc, stop
}

// openSource opens a single node's store, closed when the test ends.
func openSource(t *testing.T) *boltdb.Store {
	t.Helper()
	src, err := boltdb.Open(t.TempDir(), boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// openCluster opens the cluster's store on a JetStream server of its own.
func openCluster(t *testing.T) *jetstream.Store {
	t.Helper()
	c := natstest.Run(t, natstest.Options{})
	dst, err := jetstream.Open(bg, c.Connect(0), jetstream.Options{Timeout: 45 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close() })
	return dst
}

// chat stores conversations of a few messages each in st.
func chat(t *testing.T, st interface {
	CreateVisitor(context.Context, []byte, string, ...store.Fill) (store.Visitor, store.Conversation, error)
	Append(context.Context, string, ...store.NewMessage) (store.Appended, error)
}, convs, msgs int, tag string) []string {
	t.Helper()
	var ids []string
	for i := range convs {
		_, c, err := st.CreateVisitor(bg, storetest.TokenHash(fmt.Sprint(tag, i)), "")
		if err != nil {
			t.Fatal(err)
		}
		for j := range msgs {
			m, err := st.Append(bg, c.ID, store.NewMessage{ClientID: fmt.Sprint(tag, i, "-", j), From: "visitor", Text: fmt.Sprint(tag, " ", j)})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, store.MessageEventID(c.ID, m.Messages[0].Seq))
		}
	}
	return ids
}

// TestNotificationsCarryOn: after a move the cluster's webhook URL gets
// the next events (not skipped for positions of the old log, not the old
// events again), and the mail keys, outbox, push subscriptions and
// delivery log are the single node's.
func TestNotificationsCarryOn(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	key, _ := secret.Generate()
	src := openSource(t)
	// A shop's history first: the URL is made after it, so its position
	// in the single node's log is past what the cluster's log will hold
	// after the move (every event counts there, only messages here).
	chat(t, src, 40, 5, "old")
	rcv := newHookReceiver(t)
	hooks, stop := runHooks(t, src, key)
	u := rcv.srv.URL + "/hook"
	if _, _, err := hooks.Create(bg, webhook.Patch{URL: &u, Events: &[]string{"message.created"}}); err != nil {
		t.Fatal(err)
	}
	before := chat(t, src, 1, 3, "seen")
	var why string
	waitUntil(t, "the single node's deliveries, its reader past them", func() bool {
		rs, err := readers(src)
		left, perr := pending(bg, src, rs)
		why = fmt.Sprintf("delivered %v of %v; readers %+v, %v; pending %q, %v", rcv.got(), before, rs, err, left, perr)
		return len(rcv.got()) >= len(before) && err == nil && perr == nil && len(rs) > 0 && left == ""
	}, &why)
	stop()
	if _, err := mail.New(bg, src, mail.Options{Sealer: key}); err != nil { // makes its keys
		t.Fatal(err)
	}
	job := []byte(`{"kind":"test"}`)
	if _, err := src.PutDoc(bg, mail.DocKindJob, "t-job-1", job, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := src.PutDoc(bg, push.DocKindSub, "sub1", []byte(`{"endpoint":"https://push.example/1"}`), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := src.PutDoc(bg, store.DocTags, "tagged", []byte(`{"tags":["vip"]}`), 0); err != nil {
		t.Fatal(err)
	}

	dst := openCluster(t)
	n, err := BoltToJetStream(bg, src, dst, log, Options{})
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if n.Readers != 1 { // the URL's (no outbox or push reader ran)
		t.Errorf("readers = %d, want 1", n.Readers)
	}
	for _, d := range []struct{ kind, key string }{
		{mail.DocKindState, "unsubscribe"}, {mail.DocKindState, "inbound"}, {mail.DocKindJob, "t-job-1"}, {push.DocKindSub, "sub1"},
		{store.DocTags, "tagged"},
	} {
		a, err := src.Doc(d.kind, d.key)
		if err != nil {
			t.Fatalf("source %s/%s: %v", d.kind, d.key, err)
		}
		b, err := dst.Doc(d.kind, d.key)
		if err != nil || string(a.Data) != string(b.Data) {
			t.Errorf("%s/%s in the cluster = %q, %v; want the single node's %q", d.kind, d.key, b.Data, err, a.Data)
		}
	}
	if logs, err := dst.Docs(webhook.DocKindLog); err != nil || len(logs) != len(before) {
		t.Errorf("delivery log entries in the cluster = %d, %v; want %d", len(logs), err, len(before))
	}

	// The cluster serves: the URL gets what happens now, and only that.
	hooks2, _ := runHooks(t, dst, key)
	if eps := hooks2.List(); len(eps) != 1 || !eps[0].Enabled {
		t.Fatalf("endpoints in the cluster = %+v", eps)
	}
	after := chat(t, dst, 1, 2, "new")
	waitUntil(t, "the cluster's deliveries", func() bool { return len(rcv.got()) >= len(before)+len(after) })
	got := rcv.got()
	if fmt.Sprint(got[len(before):]) != fmt.Sprint(after) {
		t.Errorf("delivered after the move = %v, want only the new events %v", got[len(before):], after)
	}
}

// TestPendingEventsStopTheMove: a URL still retrying an event when the
// single node stopped holds the move back, before anything is written;
// told to drop it, the move goes and the URL starts clean.
func TestPendingEventsStopTheMove(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	key, _ := secret.Generate()
	src := openSource(t)
	rcv := newHookReceiver(t)
	rcv.down.Store(true)
	hooks, stop := runHooks(t, src, key)
	u := rcv.srv.URL + "/hook"
	ep, _, err := hooks.Create(bg, webhook.Patch{URL: &u})
	if err != nil {
		t.Fatal(err)
	}
	chat(t, src, 2, 2, "x")
	waitUntil(t, "a failing delivery", func() bool {
		st, err := hooks.Status(ep.ID)
		return err == nil && len(st.Deliveries) > 0 && st.Deliveries[0].Attempts > 1
	})
	stop()

	dst := openCluster(t)
	_, err = BoltToJetStream(bg, src, dst, log, Options{})
	if !errors.Is(err, ErrPending) {
		t.Fatalf("migrate with a URL retrying = %v, want ErrPending", err)
	}
	t.Logf("refused: %v", err)
	if convs, err := dst.Conversations(nil); err != nil || len(convs) != 0 {
		t.Fatalf("a refused move wrote %d conversations (%v)", len(convs), err)
	}
	if _, err := BoltToJetStream(bg, src, dst, log, Options{DropPending: true}); err != nil {
		t.Fatalf("migrate dropping pending events: %v", err)
	}
	d, err := dst.Doc(webhook.DocKindState, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]json.RawMessage
	if err := json.Unmarshal(d.Data, &st); err != nil || st["failing"] != nil || st["paused"] != nil || st["n"] == nil {
		t.Errorf("delivery state in the cluster = %s, %v; want its count only", d.Data, err)
	}
}
