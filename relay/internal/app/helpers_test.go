package app_test

import (
	"context"
	"encoding/json"
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

// cluster starts three nodes with the test admin.
func cluster(t *testing.T, mutate func(i int, c *config.Config)) []*apptest.Relay {
	t.Helper()
	return apptest.StartCluster(t, 3, func(i int, c *config.Config) {
		c.AdminPassword = adminPassword
		if mutate != nil {
			mutate(i, c)
		}
	})
}

// eventually polls cond until it holds, or fails the test.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// person is a signed-in browser of one node.
type person struct {
	t    *testing.T
	r    *apptest.Relay
	http *http.Client
	csrf string
	user auth.User
}

func signIn(t *testing.T, r *apptest.Relay, username, password string) *person {
	t.Helper()
	return personOf(t, r, r.SignIn(t, username, password))
}

func personOf(t *testing.T, r *apptest.Relay, s *apptest.Session) *person {
	return &person{t: t, r: r, http: s.Client(), csrf: s.CSRF(), user: s.User()}
}

// on is the same signed-in person using another node: the session is in
// the shared store, so the cookie works there too.
func (p *person) on(r *apptest.Relay) *person {
	jar, _ := cookiejar.New(nil)
	for _, c := range p.http.Jar.Cookies(mustURL(p.r.URL)) {
		jar.SetCookies(mustURL(r.URL), []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
	}
	return &person{t: p.t, r: r, http: &http.Client{Jar: jar}, csrf: p.csrf, user: p.user}
}

func newAgent(t *testing.T, r *apptest.Relay, username string, capacity int) *person {
	t.Helper()
	return personOf(t, r, r.NewAccount(t, auth.NewAccount{Username: username, Role: store.RoleAgent, Capacity: capacity}))
}

// do sends an API request as p.
func (p *person) do(method, path, body string) *http.Response {
	p.t.Helper()
	req, _ := http.NewRequest(method, p.r.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", p.csrf)
	req.Header.Set("Origin", p.r.URL)
	resp, err := p.http.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// console is an agent socket recording every frame.
type console struct {
	t    *testing.T
	conn *websocket.Conn
	mu   sync.Mutex
	ev   []map[string]any
	ch   chan struct{}
	done chan struct{}
	code websocket.StatusCode
}

func (p *person) console() *console {
	p.t.Helper()
	conn := p.r.DialAgent(p.t, p.http.Jar)
	c := &console{t: p.t, conn: conn, ch: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				c.code = websocket.CloseStatus(err)
				return
			}
			var m map[string]any
			json.Unmarshal(data, &m)
			c.mu.Lock()
			c.ev = append(c.ev, m)
			c.mu.Unlock()
			select {
			case c.ch <- struct{}{}:
			default:
			}
		}
	}()
	p.t.Cleanup(func() { conn.CloseNow(); <-c.done })
	c.send(`{"type":"hello"}`)
	c.wait(func(m map[string]any) bool { return m["type"] == "welcome" })
	return c
}

func (c *console) send(s string) {
	c.t.Helper()
	if err := c.conn.Write(context.Background(), websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("console write: %v", err)
	}
}

func (c *console) wait(ok func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.After(time.Minute)
	for {
		c.mu.Lock()
		for _, m := range c.ev {
			if ok(m) {
				c.mu.Unlock()
				return m
			}
		}
		c.mu.Unlock()
		select {
		case <-c.ch:
		case <-c.done:
			c.t.Fatalf("console closed (%d) while waiting", c.code)
		case <-deadline:
			c.mu.Lock()
			defer c.mu.Unlock()
			b, _ := json.Marshal(c.ev)
			c.t.Fatalf("timed out; console saw %s", b)
		}
	}
}

func msgIn(conv, from, text string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		return m["type"] == "message" && m["conversation_id"] == conv && m["from"] == from && (text == "" || m["text"] == text)
	}
}

// visitor is a widget-like client on one node, recording messages and
// other frames.
type visitor struct {
	t      *testing.T
	c      *client.Client
	conv   string
	mu     sync.Mutex
	msgs   []protocol.Message
	frames []map[string]any
	ch     chan struct{}
}

func newVisitor(t *testing.T, r *apptest.Relay) *visitor {
	return resumeVisitor(t, r, client.Options{})
}

// resumeVisitor connects with earlier state (a tab, or a reconnect).
func resumeVisitor(t *testing.T, r *apptest.Relay, opts client.Options) *visitor {
	t.Helper()
	v := &visitor{t: t, ch: make(chan struct{}, 1)}
	opts.URL = r.WS
	opts.OnMessage = func(m protocol.Message) { v.mu.Lock(); v.msgs = append(v.msgs, m); v.mu.Unlock(); v.poke() }
	opts.OnFrame = func(typ string, raw []byte) {
		var m map[string]any
		json.Unmarshal(raw, &m)
		v.mu.Lock()
		v.frames = append(v.frames, m)
		v.mu.Unlock()
		v.poke()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.Dial(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	v.c = c
	_, v.conv, _ = c.State()
	return v
}

// tab opens the same visitor on another node.
func (v *visitor) tab(r *apptest.Relay) *visitor {
	tok, conv, _ := v.c.State()
	return resumeVisitor(v.t, r, client.Options{Token: tok, ConversationID: conv})
}

func (v *visitor) poke() {
	select {
	case v.ch <- struct{}{}:
	default:
	}
}

func (v *visitor) send(text string) protocol.Ack {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ack, err := v.c.Send(ctx, text)
	if err != nil {
		v.t.Fatal(err)
	}
	return ack
}

func (v *visitor) waitMsg(ok func(protocol.Message) bool) protocol.Message {
	v.t.Helper()
	deadline := time.After(time.Minute)
	for {
		v.mu.Lock()
		for _, m := range v.msgs {
			if ok(m) {
				v.mu.Unlock()
				return m
			}
		}
		v.mu.Unlock()
		select {
		case <-v.ch:
		case <-deadline:
			v.mu.Lock()
			defer v.mu.Unlock()
			v.t.Fatalf("visitor timed out; has %+v", v.msgs)
		}
	}
}

func (v *visitor) waitFrame(ok func(map[string]any) bool) map[string]any {
	v.t.Helper()
	deadline := time.After(time.Minute)
	for {
		v.mu.Lock()
		for _, m := range v.frames {
			if ok(m) {
				v.mu.Unlock()
				return m
			}
		}
		v.mu.Unlock()
		select {
		case <-v.ch:
		case <-deadline:
			v.t.Fatal("visitor timed out waiting for a frame")
		}
	}
}

func (v *visitor) messages() []protocol.Message {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]protocol.Message(nil), v.msgs...)
}
