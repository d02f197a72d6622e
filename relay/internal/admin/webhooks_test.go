package admin_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/webhook"
)

// The admin page's webhook API against a real relay and a receiver on
// loopback: add a URL (its secret shown once), events reach it signed,
// the deliveries are listed and redelivered; bad input is refused with
// the reason; agents cannot touch it.
func TestWebhooksAPI(t *testing.T) {
	var mu sync.Mutex
	var secret string
	var got []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := webhook.Verify(secret, req.Header.Get(webhook.SignatureHeader), body, time.Now(), webhook.Tolerance); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		got = append(got, req.Header.Get("Kefu-Event-Type"))
	}))
	t.Cleanup(recv.Close)
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)

	for _, bad := range []map[string]any{
		{"url": "http://169.254.169.254/latest/meta-data"},
		{"url": "gopher://example.com"},
		{"url": recv.URL, "events": []string{"conversation.exploded"}},
		{"url": recv.URL, "secret": "short"},
		{"url": recv.URL, "nonsense": true},
	} {
		if res := admin.do("POST", "/v1/admin/webhooks", bad); res.status != 400 {
			t.Errorf("POST %v: %d %s, want 400", bad, res.status, res.body)
		}
	}
	var created struct {
		Endpoint webhook.Endpoint `json:"endpoint"`
		Secret   string           `json:"secret"`
	}
	admin.must(201, "POST", "/v1/admin/webhooks", map[string]any{
		"url": recv.URL + "/kefu", "events": []string{"conversation.created", "message.created"}, "description": "CRM",
	}).decode(&created)
	mu.Lock()
	secret = created.Secret
	mu.Unlock()
	if !strings.HasPrefix(created.Secret, "whsec_") || !created.Endpoint.HasSecret || !created.Endpoint.Enabled {
		t.Fatalf("created %+v", created)
	}
	list := admin.must(200, "GET", "/v1/admin/webhooks", nil)
	if strings.Contains(string(list.body), created.Secret) || !strings.Contains(string(list.body), `"event_types":[`) {
		t.Errorf("the list shows the secret, or no event types: %s", list.body)
	}

	newVisitor(t, r).send(t, "hello there")
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 3 { // created, the visitor's message, the bot's answer
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver got %v", got)
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
	var st webhook.Status
	id := created.Endpoint.ID
	for deadline := time.Now().Add(30 * time.Second); ; {
		admin.must(200, "GET", "/v1/admin/webhooks/"+id+"/deliveries", nil).decode(&st)
		if len(st.Deliveries) >= 3 && st.Deliveries[len(st.Deliveries)-1].Status == webhook.StatusDelivered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries %+v", st)
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
	last := st.Deliveries[len(st.Deliveries)-1]
	if last.Type != "conversation.created" || last.Code != 200 {
		t.Errorf("oldest delivery %+v", last)
	}
	var d webhook.Delivery
	admin.must(200, "POST", "/v1/admin/webhooks/"+id+"/deliveries/"+strconv.Itoa(last.Slot)+"/redeliver", nil).decode(&d)
	if d.Redelivered != 1 || d.Status != webhook.StatusDelivered {
		t.Errorf("redelivered %+v", d)
	}
	admin.must(200, "POST", "/v1/admin/webhooks/"+id+"/ping", nil).decode(&d)
	if d.Status != webhook.StatusDelivered || d.Type != "ping" {
		t.Errorf("ping %+v", d)
	}
	if res := admin.do("POST", "/v1/admin/webhooks/"+id+"/skip", nil); res.status != 409 {
		t.Errorf("skip when not paused: %d %s", res.status, res.body)
	}
	var patched struct {
		Endpoint webhook.Endpoint `json:"endpoint"`
		Secret   string           `json:"secret"`
	}
	admin.must(200, "PATCH", "/v1/admin/webhooks/"+id, map[string]any{"enabled": false}).decode(&patched)
	if patched.Endpoint.Enabled || patched.Secret != "" {
		t.Errorf("disabled: %+v", patched)
	}
	agent := newAccount(t, r, "mei", "agent")
	if res := agent.do("GET", "/v1/admin/webhooks", nil); res.status != 403 {
		t.Errorf("an agent listed webhooks: %d", res.status)
	}
	admin.must(204, "DELETE", "/v1/admin/webhooks/"+id, nil)
	if res := admin.do("GET", "/v1/admin/webhooks/"+id+"/deliveries", nil); res.status != 404 {
		t.Errorf("deliveries of a deleted URL: %d", res.status)
	}
}

// A relay started without --allow-private-destinations refuses a
// receiver on the LAN, saying which flag allows it.
func TestWebhookPrivateDestinationNeedsTheFlag(t *testing.T) {
	r, _ := start(t, func(c *config.Config) { c.AllowPrivateDestinations = false })
	admin := signIn(t, r, "admin", adminPassword)
	res := admin.do("POST", "/v1/admin/webhooks", map[string]any{"url": "http://10.1.2.3/hook"})
	if res.status != 400 || !strings.Contains(string(res.body), "--allow-private-destinations") {
		t.Errorf("private URL: %d %s", res.status, res.body)
	}
}
