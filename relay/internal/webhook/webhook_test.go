package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/egress"
	"github.com/kefuhq/kefu/relay/internal/notify"
	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/secret"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream/natstest"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
	"github.com/kefuhq/kefu/relay/protocol"
)

var bg = context.Background()

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testStore is what the tests need of a backend.
type testStore interface {
	storetest.OutboxStore
	SettingBytes(name string) ([]byte, error)
}

// backend opens a real store: a bbolt file, or a JetStream server in the
// test process. Peer opens another handle on the same data, as a second
// process (or node) would.
type backend struct {
	name string
	open func(t *testing.T, onEvents func()) (st testStore, peer func() testStore)
}

var backends = []backend{
	{"bbolt", func(t *testing.T, onEvents func()) (testStore, func() testStore) {
		dir := t.TempDir()
		st, err := boltdb.Open(dir, boltdb.Options{OnEvents: onEvents, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		// One bbolt file has one process: the peer is the same store.
		return st, func() testStore { return st }
	}},
	{"jetstream", func(t *testing.T, _ func()) (testStore, func() testStore) {
		c := natstest.Run(t, natstest.Options{})
		open := func() testStore {
			st, err := jetstream.Open(bg, c.Connect(0), jetstream.Options{Timeout: 45 * time.Second, Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
		return open(), open
	}},
}

// onBoth runs a test on each backend.
func onBoth(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// env is a real store and a webhook service on it.
type env struct {
	t    *testing.T
	st   testStore
	peer func() testStore
	wake *notify.Waker
	key  *secret.Key
	svc  *Service
}

func newEnv(t *testing.T, mutate func(*Options)) *env { return newEnvOn(t, backends[0], mutate) }

func newEnvOn(t *testing.T, b backend, mutate func(*Options)) *env {
	t.Helper()
	e := &env{t: t, wake: &notify.Waker{}}
	e.key, _ = secret.Generate()
	e.st, e.peer = b.open(t, e.wake.Kick)
	var err error
	opts := Options{
		Egress: egress.Policy{AllowPrivate: true}, Key: e.key, Wake: e.wake, Poll: 50 * time.Millisecond,
		FirstRetry: 5 * time.Millisecond, MaxRetry: 40 * time.Millisecond, Logger: testLogger(t),
	}
	if mutate != nil {
		mutate(&opts)
	}
	e.svc, err = New(e.st, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// run starts the service's runner until the test ends.
func (e *env) run() {
	ctx, cancel := context.WithCancel(bg)
	done := make(chan struct{})
	go func() { defer close(done); e.svc.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

// receiver is a webhook receiver on loopback that verifies every
// signature and records what it accepted.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret atomic.Value // string
	fail   atomic.Bool  // answer 503 while set
	// noVerify skips the signature check (tests whose relay clock is
	// not the receiver's).
	noVerify atomic.Bool
	mu       sync.Mutex
	got      []Body   // accepted, in arrival order
	tried    int      // every request
	bad      []string // requests whose signature did not verify
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.tried++
		sec, _ := r.secret.Load().(string)
		if err := Verify(sec, req.Header.Get(SignatureHeader), body, time.Now(), Tolerance); err != nil && !r.noVerify.Load() {
			r.bad = append(r.bad, err.Error())
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if r.fail.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		var b Body
		if err := json.Unmarshal(body, &b); err != nil {
			t.Errorf("receiver: body %s: %v", body, err)
		}
		if req.Header.Get("Kefu-Event-Id") != b.ID || req.Header.Get("Kefu-Event-Type") != b.Type {
			t.Errorf("receiver: headers %q/%q for body %s/%s", req.Header.Get("Kefu-Event-Id"), req.Header.Get("Kefu-Event-Type"), b.ID, b.Type)
		}
		r.got = append(r.got, b)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) snapshot() (got []Body, tried int, bad []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Body(nil), r.got...), r.tried, append([]string(nil), r.bad...)
}

// waitFor polls until ok, or fails the test after a generous deadline.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

func (e *env) endpoint(r *receiver, events ...string) Endpoint {
	e.t.Helper()
	u := r.srv.URL + "/hook"
	ep, sec, err := e.svc.Create(bg, Patch{URL: &u, Events: &events})
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.HasPrefix(sec, "whsec_") {
		e.t.Fatalf("generated secret %q", sec)
	}
	r.secret.Store(sec)
	return ep
}

// life writes a small conversation: created, two visitor messages, a
// hand-off, an assignment, an agent reply and a close.
func (e *env) life(tag string) string {
	e.t.Helper()
	_, c := storetest.NewVisitor(e.t, e.st)
	steps := []func() error{
		func() error {
			_, err := e.st.Append(bg, c.ID, store.NewMessage{From: "visitor", Text: tag + " hello"})
			return err
		},
		func() error {
			_, err := e.st.Append(bg, c.ID, store.NewMessage{From: "visitor", Text: tag + " a person please"})
			return err
		},
		func() error { _, err := e.st.UpdateConversation(bg, c.ID, store.HandOff); return err },
		func() error {
			_, err := e.st.UpdateConversation(bg, c.ID, func(c *store.Conversation) error { return store.Assign(c, "a1", "") })
			return err
		},
		func() error {
			_, err := e.st.Append(bg, c.ID, store.NewMessage{From: "agent", Text: tag + " hi, Mei here"})
			return err
		},
		func() error { _, err := e.st.UpdateConversation(bg, c.ID, store.Close); return err },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			e.t.Fatal(err)
		}
	}
	return c.ID
}

// logged is every event of the log, by conversation, as the relay has them.
func (e *env) logged() map[string][]string {
	evs, _, err := e.st.Events(bg, 0, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string][]string{}
	for _, ev := range evs {
		out[ev.ConversationID] = append(out[ev.ConversationID], ev.ID)
	}
	return out
}

// A receiver that fails for a while and then recovers gets every event
// once after the recovery, each conversation's in order, every request
// signed.
func TestFailingReceiverRecoversAndGetsEveryEventOnceInOrder(t *testing.T) {
	onBoth(t, testFailingReceiverRecovers)
}

func testFailingReceiverRecovers(t *testing.T, be backend) {
	e := newEnvOn(t, be, nil)
	r := newReceiver(t)
	e.endpoint(r)
	r.fail.Store(true)
	e.run()
	a := e.life("A")
	b := e.life("B")
	// Interleave: more of A after B began.
	if _, err := e.st.Append(bg, a, store.NewMessage{From: "visitor", Text: "A again"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "several failed attempts", func() bool { _, tried, _ := r.snapshot(); return tried >= 4 })
	if got, _, _ := r.snapshot(); len(got) != 0 {
		t.Fatalf("a failing receiver accepted %d events", len(got))
	}
	r.fail.Store(false)
	want := e.logged()
	total := len(want[a]) + len(want[b])
	waitFor(t, "every event", func() bool { got, _, _ := r.snapshot(); return len(got) >= total })
	got, tried, bad := r.snapshot()
	if len(bad) > 0 {
		t.Errorf("signatures that did not verify: %v", bad)
	}
	seen := map[string]int{}
	byConv := map[string][]string{}
	for _, b := range got {
		seen[b.ID]++
		byConv[b.ConversationID] = append(byConv[b.ConversationID], b.ID)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s accepted %d times", id, n)
		}
	}
	for _, conv := range []string{a, b} {
		if strings.Join(byConv[conv], " ") != strings.Join(want[conv], " ") {
			t.Errorf("conversation %s arrived as\n%v\nwant\n%v", conv, byConv[conv], want[conv])
		}
	}
	if tried <= total {
		t.Errorf("%d requests for %d events: the failures were not retried?", tried, total)
	}
	// The log says so too, once the last entry is written.
	waitFor(t, "the log", func() bool {
		st := e.status(t)
		return len(st.Deliveries) == min(total, LogSize) && st.Deliveries[0].Status == StatusDelivered
	})
	st := e.status(t)
	if len(st.Deliveries) != min(total, LogSize) || st.Deliveries[0].Status != StatusDelivered || st.Paused {
		t.Errorf("status: %d deliveries, newest %+v, paused %v", len(st.Deliveries), st.Deliveries[0], st.Paused)
	}
	retried := false
	for _, d := range st.Deliveries {
		retried = retried || d.Attempts > 1
	}
	if !retried {
		t.Log("the retried deliveries are older than the log keeps") // fine: LogSize is smaller than total
	}
}

func (e *env) status(t *testing.T) Status {
	t.Helper()
	eps := e.svc.List()
	if len(eps) != 1 {
		t.Fatalf("%d endpoints", len(eps))
	}
	st, err := e.svc.Status(eps[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// The payloads carry what the docs say, and an endpoint gets only the
// types it chose.
func TestBodiesAndEventFilter(t *testing.T) {
	e := newEnv(t, nil)
	r := newReceiver(t)
	e.endpoint(r, store.EventHandedOff, store.EventMessageCreated)
	e.run()
	conv := e.life("F")
	waitFor(t, "four events", func() bool { got, _, _ := r.snapshot(); return len(got) >= 4 })
	got, _, _ := r.snapshot()
	var types []string
	for _, b := range got {
		types = append(types, b.Type)
	}
	if strings.Join(types, " ") != "message.created message.created conversation.handed_off message.created" {
		t.Fatalf("types delivered: %v", types)
	}
	m := got[3]
	if m.ConversationID != conv || m.Data.Message == nil || m.Data.Message.Text != "F hi, Mei here" || m.Data.Message.From != "agent" || m.Data.Message.Seq != 3 {
		t.Errorf("message body: %+v %+v", m, m.Data.Message)
	}
	h := got[2]
	if h.Data.Conversation == nil || h.Data.Conversation.Handler != "queue" || h.Data.Conversation.ID != conv || h.Data.Message != nil {
		t.Errorf("hand-off body: %+v", h.Data)
	}
}

// An event still failing after the retry window pauses the URL: nothing
// later is sent or dropped; Resume sends it, and the rest follows.
func TestPausedAfterTheWindowThenResumed(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	e := newEnv(t, func(o *Options) {
		// Each look at the clock moves it an hour: the window passes after
		// a handful of real retries.
		o.Now = func() time.Time { return time.Unix(0, clock.Add(int64(time.Hour))) }
		o.GiveUpAfter = 5 * time.Hour
	})
	r := newReceiver(t)
	r.noVerify.Store(true)
	ep := e.endpoint(r)
	r.fail.Store(true)
	e.run()
	conv := e.life("P")
	waitFor(t, "the pause", func() bool { return e.status(t).Paused })
	st := e.status(t)
	if st.Deliveries[0].Status != StatusFailed || st.Deliveries[0].Type != store.EventConversationCreated || st.Deliveries[0].Code != 503 {
		t.Errorf("paused at %+v", st.Deliveries[0])
	}
	r.fail.Store(false)
	if err := e.svc.Resume(bg, ep.ID); err != nil {
		t.Fatal(err)
	}
	want := e.logged()[conv]
	waitFor(t, "everything after the resume", func() bool { got, _, _ := r.snapshot(); return len(got) >= len(want) })
	got, _, _ := r.snapshot()
	for i, b := range got {
		if b.ID != want[i] {
			t.Fatalf("after the resume, event %d is %s, want %s", i, b.ID, want[i])
		}
	}
	if e.status(t).Paused {
		t.Error("still paused")
	}
}

// Skip gives up the stuck event and goes on with the next.
func TestSkipTheStuckEvent(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	e := newEnv(t, func(o *Options) {
		o.Now = func() time.Time { return time.Unix(0, clock.Add(int64(time.Hour))) }
		o.GiveUpAfter = 3 * time.Hour
	})
	r := newReceiver(t)
	ep := e.endpoint(r, store.EventMessageCreated)
	var poison atomic.Value
	poison.Store("")
	// This receiver refuses one message for ever.
	r.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var b Body
		json.Unmarshal(body, &b)
		if b.Data.Message != nil && b.Data.Message.Text == "poison" {
			http.Error(w, "cannot parse", http.StatusUnprocessableEntity)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, b)
		r.mu.Unlock()
	})
	e.run()
	_, c := storetest.NewVisitor(t, e.st)
	for _, text := range []string{"before", "poison", "after"} {
		if _, err := e.st.Append(bg, c.ID, store.NewMessage{From: "visitor", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the pause", func() bool { return e.status(t).Paused })
	if err := e.svc.Skip(bg, ep.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the message after", func() bool { got, _, _ := r.snapshot(); return len(got) == 2 })
	got, _, _ := r.snapshot()
	if got[0].Data.Message.Text != "before" || got[1].Data.Message.Text != "after" {
		t.Errorf("delivered %s, %s", got[0].Data.Message.Text, got[1].Data.Message.Text)
	}
	statuses := map[string]int{}
	waitFor(t, "the log", func() bool {
		clear(statuses)
		for _, d := range e.status(t).Deliveries {
			statuses[d.Status]++
		}
		return statuses[StatusSkipped] == 1 && statuses[StatusDelivered] == 2
	})
	if err := e.svc.Skip(bg, ep.ID); err == nil {
		t.Error("skipping when not paused succeeded")
	}
}

// Redeliver sends a logged body again with a fresh signature.
func TestRedeliver(t *testing.T) {
	e := newEnv(t, nil)
	r := newReceiver(t)
	ep := e.endpoint(r, store.EventConversationCreated)
	e.run()
	storetest.NewVisitor(t, e.st)
	waitFor(t, "the delivery logged", func() bool {
		st := e.status(t)
		return len(st.Deliveries) == 1 && st.Deliveries[0].Status == StatusDelivered
	})
	st := e.status(t)
	d, err := e.svc.Redeliver(bg, ep.ID, st.Deliveries[0].Slot)
	if err != nil || d.Status != StatusDelivered || d.Redelivered != 1 || d.Attempts != 2 {
		t.Fatalf("Redeliver = %+v, %v", d, err)
	}
	got, _, bad := r.snapshot()
	if len(got) != 2 || got[1].ID != got[0].ID || len(bad) != 0 {
		t.Errorf("receiver got %d bodies (%v), bad signatures %v", len(got), got, bad)
	}
	if _, err := e.svc.Redeliver(bg, ep.ID, 7); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("redeliver of an empty slot: %v", err)
	}
}

// Destinations follow the egress rules: metadata and link-local always
// refused, private ones unless allowed; a redirect is a failure; the
// secret is stored sealed and shown once.
func TestDestinationsAndSecrets(t *testing.T) {
	strict := newEnv(t, func(o *Options) { o.Egress = egress.Policy{} })
	for _, u := range []string{"http://169.254.169.254/latest", "http://127.0.0.1:9/x", "http://localhost/x", "ftp://example.com/", "http://user:pw@example.com/", ""} {
		if _, _, err := strict.svc.Create(bg, Patch{URL: &u}); err == nil {
			t.Errorf("strict policy accepted %q", u)
		}
	}
	if _, _, err := strict.svc.Create(bg, Patch{URL: ptr("https://example.com/hook"), Events: &[]string{"conversation.exploded"}}); err == nil {
		t.Error("accepted an unknown event type")
	}
	if _, _, err := strict.svc.Create(bg, Patch{URL: ptr("https://example.com/hook"), Secret: ptr("short")}); err == nil {
		t.Error("accepted a 5-character secret")
	}

	e := newEnv(t, nil)
	redirect := httptest.NewServer(http.RedirectHandler("http://127.0.0.1:1/elsewhere", http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	u := redirect.URL
	ep, sec, err := e.svc.Create(bg, Patch{URL: &u, Secret: ptr("my-own-secret-of-some-length")})
	if err != nil || sec != "my-own-secret-of-some-length" {
		t.Fatalf("Create = %v, %q", err, sec)
	}
	d, err := e.svc.Ping(bg, ep.ID)
	if err != nil || d.Status != StatusFailed || d.Code != http.StatusTemporaryRedirect {
		t.Errorf("ping to a redirect = %+v, %v; want failed with 307", d, err)
	}
	raw, err := e.st.SettingBytes(settingName)
	if err != nil || strings.Contains(string(raw), "my-own-secret") || !strings.Contains(string(raw), `"secret":"`) {
		t.Errorf("stored settings hold the secret in clear, or none: %s", raw)
	}
	out, _ := json.Marshal(e.svc.List())
	if strings.Contains(string(out), "my-own-secret") || !strings.Contains(string(out), `"has_secret":true`) {
		t.Errorf("the list shows the secret: %s", out)
	}
	_, rotated, err := e.svc.Update(bg, ep.ID, Patch{Secret: ptr("")})
	if err != nil || !strings.HasPrefix(rotated, "whsec_") {
		t.Errorf("rotate = %q, %v", rotated, err)
	}
	// A reload (another node, a restart) opens the sealed secret.
	again, err := New(e.st, Options{Egress: egress.Policy{AllowPrivate: true}, Key: e.key})
	if err != nil || again.List()[0].secret != rotated {
		t.Errorf("reloaded secret differs (%v)", err)
	}
	other, _ := secret.Generate()
	if _, err := New(e.st, Options{Key: other}); !errors.Is(err, ErrKeyUnreadable) {
		t.Errorf("another key: %v, want ErrKeyUnreadable", err)
	}
	forgot, err := New(e.st, Options{Key: other, ForgetSecrets: true})
	if err != nil || forgot.List()[0].HasSecret || forgot.List()[0].Enabled {
		t.Errorf("forget-secrets: %+v, %v; want the URL kept, disabled, without a secret", forgot.List(), err)
	}
}

func ptr[T any](v T) *T { return &v }

// Deleting an endpoint drops its position and log, so the event log is no
// longer kept for it.
func TestDeleteForgets(t *testing.T) {
	e := newEnv(t, nil)
	r := newReceiver(t)
	ep := e.endpoint(r)
	e.run()
	storetest.NewVisitor(t, e.st)
	waitFor(t, "a delivery", func() bool { got, _, _ := r.snapshot(); return len(got) == 1 })
	if err := e.svc.Delete(bg, ep.ID); err != nil {
		t.Fatal(err)
	}
	// The runner drops what its reader may have written meanwhile.
	waitFor(t, "every document gone", func() bool {
		n := 0
		for _, kind := range []string{notify.KindCursor, kindState, kindLog} {
			docs, err := e.st.Docs(kind)
			if err != nil {
				t.Fatal(err)
			}
			n += len(docs)
		}
		return n == 0
	})
	if err := e.svc.Delete(bg, ep.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

// Erasure drops logged bodies of the erased conversations only.
func TestEraseDropsLoggedBodies(t *testing.T) {
	e := newEnv(t, nil)
	r := newReceiver(t)
	e.endpoint(r, store.EventMessageCreated)
	e.run()
	_, gone := storetest.NewVisitor(t, e.st)
	_, kept := storetest.NewVisitor(t, e.st)
	for _, c := range []string{gone.ID, kept.ID} {
		if _, err := e.st.Append(bg, c, store.NewMessage{From: "visitor", Text: "words of " + c}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "two logged deliveries", func() bool {
		return len(e.status(t).Deliveries) == 2 && e.status(t).Deliveries[0].Status == StatusDelivered
	})
	if err := e.svc.Erase(bg, privacy.Subject{ConversationIDs: []string{gone.ID}}); err != nil {
		t.Fatal(err)
	}
	st := e.status(t)
	if len(st.Deliveries) != 1 || st.Deliveries[0].ConversationID != kept.ID {
		t.Errorf("after erasure the log has %+v", st.Deliveries)
	}
	docs, _ := e.st.Docs(kindLog)
	for _, d := range docs {
		if strings.Contains(string(d.Data), gone.ID) {
			t.Errorf("a log document still names the erased conversation: %s", d.Data)
		}
	}
}

// A relay stopped while a delivery is in flight (committed, not yet
// acknowledged) leaves it to the next process on the same data, which
// delivers it and everything after it, in order. (The binary's kill -9
// test, relay/cmd/kefu, does this with a real SIGKILL on bbolt.)
func TestAnotherProcessDeliversWhatTheFirstLeftInFlight(t *testing.T) {
	onBoth(t, testTakeover)
}

func testTakeover(t *testing.T, be backend) {
	e := newEnvOn(t, be, nil)
	r := newReceiver(t)
	var held atomic.Bool
	inFlight := make(chan struct{})
	release := make(chan struct{})
	verifying := r.srv.Config.Handler
	r.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if held.CompareAndSwap(false, true) {
			close(inFlight)
			<-release // the first process is stopped meanwhile: no answer reaches it
			return
		}
		verifying.ServeHTTP(w, req)
	})
	defer close(release)
	e.endpoint(r)
	ctx, stop := context.WithCancel(bg)
	done := make(chan struct{})
	go func() { defer close(done); e.svc.Run(ctx) }()
	conv := e.life("K")
	select {
	case <-inFlight:
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery started")
	}
	stop()
	<-done

	// The next process: its own store handle and service, the same key.
	st := e.peer()
	next, err := New(st, Options{Egress: egress.Policy{AllowPrivate: true}, Key: e.key, Poll: 50 * time.Millisecond,
		FirstRetry: 5 * time.Millisecond, MaxRetry: 40 * time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx2, stop2 := context.WithCancel(bg)
	done2 := make(chan struct{})
	go func() { defer close(done2); next.Run(ctx2) }()
	defer func() { stop2(); <-done2 }()
	want := e.logged()[conv]
	waitFor(t, "every event after the takeover", func() bool { got, _, _ := r.snapshot(); return len(got) >= len(want) })
	got, _, bad := r.snapshot()
	var ids []string
	for _, b := range got {
		ids = append(ids, b.ID)
	}
	if strings.Join(ids, " ") != strings.Join(want, " ") || len(bad) > 0 {
		t.Errorf("accepted\n%v\nwant\n%v\n(bad signatures: %v)", ids, want, bad)
	}
	if got[0].Type != store.EventConversationCreated {
		t.Errorf("the first accepted is %s, want the one in flight at the stop (conversation.created)", got[0].Type)
	}
}

// A disabled URL is sent nothing of what happens while it is off, does not
// keep the event log from being pruned, and gets what happens after it is
// enabled again.
func TestDisabledMissesWhatHappensMeanwhile(t *testing.T) {
	e := newEnv(t, nil)
	r := newReceiver(t)
	ep := e.endpoint(r, store.EventConversationCreated)
	e.run()
	_, first := storetest.NewVisitor(t, e.st)
	waitFor(t, "the first delivery", func() bool { got, _, _ := r.snapshot(); return len(got) == 1 })
	if _, _, err := e.svc.Update(bg, ep.ID, Patch{Enabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "its position dropped", func() bool {
		docs, err := e.st.Docs(notify.KindCursor)
		return err == nil && len(docs) == 0
	})
	_, _ = storetest.NewVisitor(t, e.st) // while off
	if _, _, err := e.svc.Update(bg, ep.ID, Patch{Enabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	_, third := storetest.NewVisitor(t, e.st)
	waitFor(t, "the delivery after enabling", func() bool { got, _, _ := r.snapshot(); return len(got) >= 2 })
	got, _, _ := r.snapshot()
	if len(got) != 2 || got[0].ConversationID != first.ID || got[1].ConversationID != third.ID {
		var convs []string
		for _, b := range got {
			convs = append(convs, b.ConversationID)
		}
		t.Errorf("delivered conversations %v, want %s then %s", convs, first.ID, third.ID)
	}
}

// A visitor's rating, stored as a message of its conversation, is sent as
// conversation.rated to a URL that chose it, and not as a message.
func TestRatingIsSentAsRated(t *testing.T) {
	e := newEnv(t, nil)
	r := newReceiver(t)
	e.endpoint(r, store.EventRated, store.EventMessageCreated)
	e.run()
	_, c := storetest.NewVisitor(t, e.st)
	if _, err := e.st.Append(bg, c.ID, store.NewMessage{From: "visitor", Text: "thanks"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateConversation(bg, c.ID, store.Close); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Append(bg, c.ID, store.NewMessage{From: protocol.FromRating, Text: "quick and kind",
		Rating: &store.Rating{Score: 5, Comment: "quick and kind", AgentID: "a1"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two deliveries", func() bool { got, _, _ := r.snapshot(); return len(got) >= 2 })
	got, _, _ := r.snapshot()
	rated := got[1]
	var rating Rating
	if err := json.Unmarshal(rated.Data.Rating, &rating); err != nil {
		t.Fatal(err)
	}
	if got[0].Type != store.EventMessageCreated || rated.Type != store.EventRated || rated.Data.Message != nil ||
		rating.Score != 5 || rating.Comment != "quick and kind" || rating.AgentID != "a1" || rating.Seq != 2 || rated.ConversationID != c.ID {
		t.Errorf("delivered %s then %s %+v", got[0].Type, rated.Type, rating)
	}
}
