package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/push"
	"github.com/kefuhq/kefu/relay/internal/push/pushtest"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/webhook"
)

// A webhook added on one node gets the events of conversations on every
// node, each once, each conversation's in order, from the one node that
// holds the notifier lease.
func webhooksOnceFromOneNode(t *testing.T, n []*apptest.Relay, _ *openaitest.Server) {
	var (
		mu     sync.Mutex
		secret string
		got    []webhook.Body
		bad    []string
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), webhook.Tolerance); err != nil {
			bad = append(bad, err.Error())
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var b webhook.Body
		json.Unmarshal(body, &b)
		got = append(got, b)
	}))
	t.Cleanup(recv.Close)

	admin := signIn(t, n[0], "admin", adminPassword)
	req, _ := http.NewRequest("POST", n[0].URL+"/v1/admin/webhooks",
		strings.NewReader(fmt.Sprintf(`{"url":%q,"events":["conversation.created","message.created"]}`, recv.URL+"/hook")))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", admin.csrf)
	req.Header.Set("Origin", n[0].URL)
	resp, err := admin.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Secret string }
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || created.Secret == "" {
		t.Fatalf("add a webhook: %s", resp.Status)
	}
	mu.Lock()
	secret = created.Secret
	mu.Unlock()

	// Visitors on the other two nodes.
	convs := map[string]uint64{} // conversation → the seq of its last visitor message
	for _, r := range n[1:] {
		v := newVisitor(t, r)
		var last uint64
		for i := range 3 {
			last = v.send(fmt.Sprintf("webhook question %d", i)).Seq
		}
		_, conv, _ := v.c.State()
		convs[conv] = last
	}
	eventually(t, "every visitor message delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		last := map[string]uint64{}
		for _, b := range got {
			if b.Data.Message != nil && b.Data.Message.From == "visitor" {
				last[b.ConversationID] = b.Data.Message.Seq
			}
		}
		for c, seq := range convs {
			if last[c] < seq {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("signatures that did not verify: %v", bad)
	}
	seen := map[string]bool{}
	next := map[string]uint64{}
	for _, b := range got {
		if _, ours := convs[b.ConversationID]; !ours {
			continue
		}
		if seen[b.ID] {
			t.Errorf("event %s (%s) delivered twice", b.ID, b.Type)
		}
		seen[b.ID] = true
		switch b.Type {
		case store.EventConversationCreated:
			if next[b.ConversationID] != 0 {
				t.Errorf("%s: conversation.created after its messages", b.ConversationID)
			}
			next[b.ConversationID] = 1
		case store.EventMessageCreated:
			if want := next[b.ConversationID]; b.Data.Message.Seq != want {
				t.Errorf("%s: message %d arrived where %d was due", b.ConversationID, b.Data.Message.Seq, want)
			}
			next[b.ConversationID] = b.Data.Message.Seq + 1
		}
	}
	notifying := 0
	for _, r := range n {
		if r.App.Notifying() {
			notifying++
		}
	}
	if notifying != 1 {
		t.Errorf("%d nodes deliver webhooks, want 1", notifying)
	}
}

// An agent who turned push on in the console (the same requests) is sent
// a conversation handed to the queue: the push service's body, decrypted
// with the browser's keys, names it. A bad subscription is refused.
func TestPushThroughTheConsoleAPI(t *testing.T) {
	r := apptest.Start(t, func(c *config.Config) {
		c.AdminPassword = adminPassword
		c.AllowPrivateDestinations = true // the push service is on loopback
	})
	var (
		mu     sync.Mutex
		bodies [][]byte
	)
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(ps.Close)
	mei := newAgent(t, r, "mei", 3)
	br := pushtest.NewBrowser(t)
	sub, _ := json.Marshal(map[string]any{"endpoint": ps.URL + "/send/mei", "keys": br.Keys()})
	if resp := mei.do("POST", "/v1/agent/push/subscriptions", string(sub)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("subscribe: %s", resp.Status)
	}
	if resp := mei.do("POST", "/v1/agent/push/subscriptions", `{"endpoint":"http://169.254.169.254/x","keys":{"p256dh":"x","auth":"y"}}`); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a metadata-address subscription: %s, want 400", resp.Status)
	}
	v := newVisitor(t, r)
	v.send("I want to talk to a person")
	_, conv, _ := v.c.State()
	eventually(t, "the push", func() bool { mu.Lock(); defer mu.Unlock(); return len(bodies) > 0 })
	mu.Lock()
	defer mu.Unlock()
	plain, err := br.Decrypt(bodies[0])
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	var n push.Notification
	if err := json.Unmarshal(plain, &n); err != nil || n.ConversationID != conv || !strings.HasSuffix(n.URL, conv) {
		t.Errorf("notification %s (%v), want conversation %s", plain, err, conv)
	}
}
