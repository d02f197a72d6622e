package push

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

	webpush "github.com/SherClockHolmes/webpush-go"

	"github.com/kefuhq/kefu/relay/internal/egress"
	"github.com/kefuhq/kefu/relay/internal/notify"
	"github.com/kefuhq/kefu/relay/internal/push/pushtest"
	"github.com/kefuhq/kefu/relay/internal/secret"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream/natstest"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
)

var bg = context.Background()

type testStore interface {
	storetest.OutboxStore
	Store
	CreateAccount(ctx context.Context, a store.Account) error
}

// agent makes an account for subscriptions to belong to.
func agent(t *testing.T, st testStore, id string) {
	t.Helper()
	if err := st.CreateAccount(bg, store.Account{ID: id, Username: id, Name: id, Role: store.RoleAgent}); err != nil {
		t.Fatal(err)
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func onBoth(t *testing.T, fn func(t *testing.T, st testStore, wake *notify.Waker)) {
	t.Run("bbolt", func(t *testing.T) {
		w := &notify.Waker{}
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
		fn(t, st, nil)
	})
}

// pushService is a push service on loopback: it keeps what it was sent.
type pushService struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	auths  []string
	status atomic.Int32 // answer; 0 means 201
	tried  atomic.Int32
}

func newPushService(t *testing.T) *pushService {
	p := &pushService{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.tried.Add(1)
		if code := p.status.Load(); code != 0 {
			w.WriteHeader(int(code))
			return
		}
		if r.Header.Get("Content-Encoding") != "aes128gcm" || r.Header.Get("TTL") == "" {
			http.Error(w, "bad headers", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.bodies = append(p.bodies, body)
		p.auths = append(p.auths, r.Header.Get("Authorization"))
		p.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *pushService) got() ([][]byte, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.bodies...), append([]string(nil), p.auths...)
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

func newService(t *testing.T, st testStore, wake *notify.Waker, key *secret.Key) *Service {
	t.Helper()
	svc, err := New(bg, st, Options{Egress: egress.Policy{AllowPrivate: true}, Key: key, Wake: wake, Poll: 20 * time.Millisecond,
		FirstRetry: 5 * time.Millisecond, Subject: "https://chat.example.com",
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func run(t *testing.T, svc *Service) {
	ctx, cancel := context.WithCancel(bg)
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// A conversation handed to the queue reaches the agent's push service
// encrypted for their browser: decrypted with the browser's keys it names
// the conversation, and the request carries the relay's VAPID key. A push
// service that fails for a while gets it once it recovers.
func TestWaitingConversationIsPushed(t *testing.T) {
	onBoth(t, func(t *testing.T, st testStore, wake *notify.Waker) {
		key, _ := secret.Generate()
		svc := newService(t, st, wake, key)
		ps := newPushService(t)
		br := pushtest.NewBrowser(t)
		agent(t, st, "a1")
		if err := svc.Subscribe(bg, "a1", Subscription{Endpoint: ps.srv.URL + "/send/x1", Keys: br.Keys()}); err != nil {
			t.Fatal(err)
		}
		ps.status.Store(http.StatusServiceUnavailable)
		run(t, svc)
		_, c := storetest.NewVisitor(t, st)
		if _, err := st.Append(bg, c.ID, store.NewMessage{From: "visitor", Text: "a person please"}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.UpdateConversation(bg, c.ID, store.HandOff); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "failed attempts", func() bool { return ps.tried.Load() >= 2 })
		ps.status.Store(0)
		waitFor(t, "the notification", func() bool { b, _ := ps.got(); return len(b) >= 1 })
		bodies, auths := ps.got()
		plain, err := br.Decrypt(bodies[0])
		if err != nil {
			t.Fatalf("decrypt with the browser's keys: %v", err)
		}
		var n Notification
		if err := json.Unmarshal(plain, &n); err != nil {
			t.Fatalf("payload %q: %v", plain, err)
		}
		if n.ConversationID != c.ID || n.URL != "/console/#c="+c.ID || n.Type != "waiting" {
			t.Errorf("notification %+v, want conversation %s", n, c.ID)
		}
		if !strings.Contains(auths[0], "vapid t=") || !strings.Contains(auths[0], "k="+svc.PublicKey()) {
			t.Errorf("Authorization %q lacks the VAPID token or key %s", auths[0], svc.PublicKey())
		}
		// Someone else's keys cannot read it.
		if _, err := pushtest.NewBrowser(t).Decrypt(bodies[0]); err == nil {
			t.Error("another browser's keys decrypted the payload")
		}
		// A restart (or another node) keeps the same VAPID key pair.
		if again := newService(t, st, wake, key); again.PublicKey() != svc.PublicKey() {
			t.Error("the VAPID key changed on reopening")
		}
	})
}

// A subscription the push service says is gone is removed, and so is one
// whose account was deleted; bad ones are refused with a clear error; an
// agent removes only their own.
func TestSubscriptions(t *testing.T) {
	st, err := boltdb.Open(t.TempDir(), boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, _ := secret.Generate()
	svc := newService(t, st, nil, key)
	ps := newPushService(t)
	br := pushtest.NewBrowser(t)
	for _, bad := range []Subscription{
		{Endpoint: "http://169.254.169.254/push", Keys: br.Keys()},
		{Endpoint: "ftp://push.example.com/x", Keys: br.Keys()},
		{Endpoint: ps.srv.URL + "/x", Keys: webpush.Keys{P256dh: "abc", Auth: br.Keys().Auth}},
		{Endpoint: ps.srv.URL + "/x", Keys: webpush.Keys{P256dh: br.Keys().P256dh, Auth: "short"}},
	} {
		if err := svc.Subscribe(bg, "a1", bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	agent(t, st, "a1")
	sub := Subscription{Endpoint: ps.srv.URL + "/send/gone", Keys: br.Keys()}
	if err := svc.Subscribe(bg, "a1", sub); err != nil {
		t.Fatal(err)
	}
	if err := svc.Unsubscribe(bg, "a2", sub.Endpoint); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another agent's unsubscribe: %v", err)
	}
	// An account deleted since it subscribed is sent nothing, and its
	// subscription goes.
	if err := svc.Subscribe(bg, "ghost", Subscription{Endpoint: ps.srv.URL + "/send/ghost", Keys: pushtest.NewBrowser(t).Keys()}); err != nil {
		t.Fatal(err)
	}
	ps.status.Store(http.StatusGone)
	run(t, svc)
	_, c := storetest.NewVisitor(t, st)
	if _, err := st.UpdateConversation(bg, c.ID, store.HandOff); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the expired and the orphaned subscription removed", func() bool {
		subs, err := svc.Subscriptions("")
		return err == nil && len(subs) == 0
	})
	if n := ps.tried.Load(); n != 1 {
		t.Errorf("the push service was asked %d times, want once (the deleted account's subscription is not sent to)", n)
	}
}

// TestForgetSecretsMakesNewKeys: a VAPID key sealed with another secret
// key stops the start with a clear error, unless --forget-secrets: then a
// new pair is made and the old subscriptions (useless with it) are gone.
func TestForgetSecretsMakesNewKeys(t *testing.T) {
	onBoth(t, func(t *testing.T, st testStore, wake *notify.Waker) {
		old, _ := secret.Generate()
		svc := newService(t, st, wake, old)
		agent(t, st, "a1")
		ps := newPushService(t)
		if err := svc.Subscribe(bg, "a1", Subscription{Endpoint: ps.srv.URL + "/send/x1", Keys: pushtest.NewBrowser(t).Keys()}); err != nil {
			t.Fatal(err)
		}
		other, _ := secret.Generate()
		opts := Options{Egress: egress.Policy{AllowPrivate: true}, Key: other, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
		if _, err := New(bg, st, opts); err == nil || !strings.Contains(err.Error(), "VAPID key cannot be opened") {
			t.Fatalf("another secret key: %v, want the VAPID key refused", err)
		}
		opts.ForgetSecrets = true
		again, err := New(bg, st, opts)
		if err != nil {
			t.Fatalf("with ForgetSecrets: %v", err)
		}
		if again.PublicKey() == svc.PublicKey() {
			t.Error("the same VAPID key after forgetting it")
		}
		if subs, err := again.Subscriptions(""); err != nil || len(subs) != 0 {
			t.Errorf("subscriptions after a new key = %v, %v; want none", subs, err)
		}
	})
}
