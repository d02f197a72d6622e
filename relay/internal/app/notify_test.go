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
