package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/webhook"
	"github.com/kefuhq/kefu/relay/protocol"
)

// adminClient is a signed-in admin of a running binary, sending what the
// admin page sends.
type adminClient struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string
}

func signInAdmin(t *testing.T, addr, password string) *adminClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	a := &adminClient{t: t, base: "http://" + addr, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	var out struct {
		CSRF string `json:"csrf"`
	}
	a.call("POST", "/v1/auth/login", map[string]string{"username": "admin", "password": password}, &out)
	a.csrf = out.CSRF
	return a
}

// call sends body as JSON and decodes a 2xx answer into out.
func (a *adminClient) call(method, path string, body, out any) {
	a.t.Helper()
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, a.base+path, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", a.base)
	req.Header.Set("X-CSRF-Token", a.csrf)
	resp, err := a.http.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		a.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// A relay killed with SIGKILL while it delivers an event (committed, not
// yet acknowledged by the receiver) delivers it after its restart, with
// everything after it, in order.
func TestWebhookDeliveredAcrossKill(t *testing.T) {
	const password = "admin-password-for-tests"
	data := t.TempDir()
	addr := freePort(t)
	p := startKefu(t, addr, data, "--admin-password", password, "--allow-private-destinations=true")

	var (
		mu       sync.Mutex
		secret   string
		accepted []webhook.Body
		hold     = make(chan struct{}) // the first request waits on it
		held     = make(chan struct{}, 1)
		first    = true
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		mu.Lock()
		isFirst := first
		first = false
		sec := secret
		mu.Unlock()
		if isFirst {
			held <- struct{}{}
			<-hold // the relay is killed meanwhile: this answer never reaches it
			return
		}
		if err := webhook.Verify(sec, req.Header.Get(webhook.SignatureHeader), body, time.Now(), webhook.Tolerance); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var b webhook.Body
		json.Unmarshal(body, &b)
		mu.Lock()
		accepted = append(accepted, b)
		mu.Unlock()
	}))
	t.Cleanup(recv.Close)
	defer close(hold)

	admin := signInAdmin(t, addr, password)
	var created struct {
		Secret string `json:"secret"`
	}
	admin.call("POST", "/v1/admin/webhooks", map[string]any{"url": recv.URL + "/hook"}, &created)
	mu.Lock()
	secret = created.Secret
	mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	handedOff := make(chan struct{}, 1)
	c, err := client.Dial(ctx, client.Options{URL: "ws://" + addr + "/v1/ws", MaxBackoff: 200 * time.Millisecond,
		OnMessage: func(m protocol.Message) {
			if m.From == protocol.FromSystem {
				select {
				case handedOff <- struct{}{}:
				default:
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	token, conv, _ := c.State()
	for _, text := range []string{"first question", "I want to talk to a person"} {
		if _, err := c.Send(ctx, text); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range []chan struct{}{held, handedOff} {
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("no delivery or no hand-off\n%s", p.log())
		}
	}
	// Everything the relay will store before the kill is stored: the
	// first delivery is still in flight.
	p.kill()
	c.Close()

	p = startKefu(t, addr, data, "--allow-private-destinations=true")
	c, err = client.Dial(ctx, client.Options{URL: "ws://" + addr + "/v1/ws", Token: token, ConversationID: conv})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, "are you there?"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	lastID := ""
	for deadline := time.Now().Add(30 * time.Second); ; {
		mu.Lock()
		if n := len(accepted); n > 0 && accepted[n-1].Data.Message != nil && accepted[n-1].Data.Message.Text == "are you there?" {
			lastID = accepted[n-1].ID
		}
		mu.Unlock()
		if lastID != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart the receiver accepted %+v\n%s", accepted, p.log())
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	tctx, tcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer tcancel()
	if code := p.term(tctx); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.log())
	}
	// Exactly the log, in its order, each once.
	st, err := boltdb.Open(data, boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, _, err := st.Events(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, ev := range evs {
		if ev.ConversationID == conv {
			want = append(want, ev.Type+" "+ev.ID)
		}
		if ev.ID == lastID {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, b := range accepted {
		got = append(got, b.Type+" "+b.ID)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("accepted:\n%s\nthe relay's log:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(got) < 5 || !strings.HasPrefix(got[0], "conversation.created") {
		t.Errorf("too few events, or the first is not the one in flight at the kill: %v", got)
	}
}
