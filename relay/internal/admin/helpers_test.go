package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/internal/auth"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

const adminPassword = "admin-password-for-tests"

// logTap is a testing.TB whose Log calls (the relay's log lines, from
// apptest) are also kept, so a test can search what the relay logged.
type logTap struct {
	testing.TB
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logTap) Log(args ...any) {
	l.mu.Lock()
	fmt.Fprintln(&l.buf, args...)
	l.mu.Unlock()
	l.TB.Log(args...)
}

func (l *logTap) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// start runs a relay whose first admin has adminPassword; logs are kept.
func start(t *testing.T, mutate func(*config.Config)) (*apptest.Relay, *logTap) {
	t.Helper()
	tap := &logTap{TB: t}
	r := apptest.Start(tap, func(c *config.Config) {
		c.AdminPassword = adminPassword
		if mutate != nil {
			mutate(c)
		}
	})
	return r, tap
}

// browser is one signed-in (or not) person: a cookie jar and the CSRF
// token, sending what the admin page sends.
type browser struct {
	t    *testing.T
	r    *apptest.Relay
	http *http.Client
	csrf string
	user auth.User
	// record, when set, receives every response body.
	record *strings.Builder
}

func anonymous(t *testing.T, r *apptest.Relay) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, r: r, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

func signIn(t *testing.T, r *apptest.Relay, username, password string) *browser {
	t.Helper()
	b := anonymous(t, r)
	res := b.do("POST", "/v1/auth/login", map[string]string{"username": username, "password": password})
	if res.status != 200 {
		t.Fatalf("login %s: %d %s", username, res.status, res.body)
	}
	var body struct {
		User auth.User `json:"user"`
		CSRF string    `json:"csrf"`
	}
	res.decode(&body)
	b.csrf, b.user = body.CSRF, body.User
	return b
}

// newAccount creates an account through the service and signs it in.
func newAccount(t *testing.T, r *apptest.Relay, username, role string) *browser {
	t.Helper()
	s := r.NewAccount(t, auth.NewAccount{Username: username, Role: role, Capacity: 3})
	return &browser{t: t, r: r, http: s.Client(), csrf: s.CSRF(), user: s.User()}
}

type response struct {
	t      *testing.T
	status int
	header http.Header
	body   []byte
}

func (r response) decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		r.t.Fatalf("decode %s: %v", r.body, err)
	}
}

// code is the error code of a JSON error body ("" if none).
func (r response) code() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(r.body, &e)
	return e.Error.Code
}

// do sends a request as the admin page does: same Origin, CSRF header,
// JSON body (a string body is sent as is).
func (b *browser) do(method, path string, body any, hdr ...string) response {
	b.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		data, err := json.Marshal(v)
		if err != nil {
			b.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, b.r.URL+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", b.r.URL)
	if b.csrf != "" {
		req.Header.Set("X-CSRF-Token", b.csrf)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if b.record != nil {
		b.record.Write(data)
		b.record.WriteByte('\n')
	}
	return response{t: b.t, status: resp.StatusCode, header: resp.Header, body: data}
}

// must sends a request and fails the test unless the status is want.
func (b *browser) must(want int, method, path string, body any) response {
	b.t.Helper()
	res := b.do(method, path, body)
	if res.status != want {
		b.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.status, want, res.body)
	}
	return res
}

// agentSocket opens the console socket with b's session and says hello.
// done closes when the relay closes it; code is the close code then.
type agentSocket struct {
	conn *websocket.Conn
	done chan struct{}
	code websocket.StatusCode
}

func (b *browser) agentSocket() *agentSocket {
	b.t.Helper()
	conn := b.r.DialAgent(b.t, b.http.Jar)
	s := &agentSocket{conn: conn, done: make(chan struct{})}
	welcome := make(chan struct{})
	go func() {
		defer close(s.done)
		seen := false
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				s.code = websocket.CloseStatus(err)
				return
			}
			if !seen && bytes.Contains(data, []byte(`"type":"welcome"`)) {
				seen = true
				close(welcome)
			}
		}
	}()
	b.t.Cleanup(func() { conn.CloseNow(); <-s.done })
	if err := conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"hello"}`)); err != nil {
		b.t.Fatal(err)
	}
	select {
	case <-welcome:
	case <-time.After(5 * time.Second):
		b.t.Fatal("no welcome on the agent socket")
	}
	return s
}

// visitor is a widget-like client that has sent its messages.
type visitor struct {
	c    *client.Client
	conv string
	mu   sync.Mutex
	msgs []protocol.Message
}

func newVisitor(t *testing.T, r *apptest.Relay) *visitor {
	t.Helper()
	v := &visitor{}
	c, err := client.Dial(context.Background(), client.Options{URL: r.WS,
		OnMessage: func(m protocol.Message) { v.mu.Lock(); v.msgs = append(v.msgs, m); v.mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	v.c = c
	_, v.conv, _ = c.State()
	return v
}

func (v *visitor) send(t *testing.T, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := v.c.Send(ctx, text); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// conversation reads a conversation record.
func conversation(t *testing.T, r *apptest.Relay, id string) store.Conversation {
	t.Helper()
	c, err := r.Store.Conversation(id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
