package admin_test

import (
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// endpoints lists every admin endpoint with a body that would be valid,
// so a refusal can only come from the guard.
var endpoints = []struct {
	name, method, path string
	body               any
}{
	{"list intents", "GET", "/v1/admin/intents", nil},
	{"create intent", "POST", "/v1/admin/intents", map[string]any{"name": "x", "examples": []string{"hello there"}, "answer": "hi", "action": "answer"}},
	{"edit intent", "PUT", "/v1/admin/intents/shipping", map[string]any{"name": "shipping", "examples": []string{"shipping time"}, "answer": "soon", "action": "answer"}},
	{"delete intent", "DELETE", "/v1/admin/intents/returns", nil},
	{"export intents", "GET", "/v1/admin/intents/export", nil},
	{"import intents", "POST", "/v1/admin/intents/import", map[string]any{"intents": []map[string]any{{"name": "x", "examples": []string{"hello there"}, "answer": "hi"}}}},
	{"try a sentence", "POST", "/v1/admin/intents/try", map[string]string{"text": "shipping?"}},
	{"intent quality", "GET", "/v1/admin/intents/quality", nil},
	{"list agents", "GET", "/v1/admin/agents", nil},
	{"create agent", "POST", "/v1/admin/agents", map[string]any{"username": "newbie", "name": "New", "password": "long-enough-pw", "capacity": 2}},
	{"edit agent", "PATCH", "/v1/admin/agents/nobody", map[string]any{"capacity": 2}},
	{"reset password", "POST", "/v1/admin/agents/nobody/password", map[string]string{"password": "long-enough-pw"}},
	{"get ai", "GET", "/v1/admin/ai", nil},
	{"patch ai", "PATCH", "/v1/admin/ai", map[string]any{"model": "gpt-4o-mini"}},
	{"test ai", "POST", "/v1/admin/ai/test", nil},
	{"get widget", "GET", "/v1/admin/widget", nil},
	{"put widget", "PUT", "/v1/admin/widget", map[string]any{"title": "Hi", "greeting": "", "color": "#112233", "position": "left", "z_index": 10, "allowed_sites": []string{}}},
	{"list conversations", "GET", "/v1/admin/conversations", nil},
	{"one conversation", "GET", "/v1/admin/conversations/nope", nil},
	{"dashboard", "GET", "/v1/admin/dashboard", nil},
}

func TestEveryEndpointNeedsAnAdmin(t *testing.T) {
	r, _ := start(t, nil)
	agent := newAccount(t, r, "mei", store.RoleAgent)
	admin := signIn(t, r, "admin", adminPassword)
	for _, e := range endpoints {
		t.Run(e.name, func(t *testing.T) {
			stranger := anonymous(t, r)
			if res := stranger.do(e.method, e.path, e.body); res.status != 401 || res.code() != "unauthorized" {
				t.Errorf("without a session: %d %s, want 401 unauthorized", res.status, res.body)
			}
			agent.t = t
			if res := agent.do(e.method, e.path, e.body); res.status != 403 || res.code() != "forbidden" {
				t.Errorf("as an agent: %d %s, want 403 forbidden", res.status, res.body)
			}
			if e.method == "GET" {
				return
			}
			admin.t = t
			if res := admin.do(e.method, e.path, e.body, "X-CSRF-Token", ""); res.status != 403 || res.code() != "forbidden" {
				t.Errorf("admin without the CSRF header: %d %s, want 403 forbidden", res.status, res.body)
			}
			if res := admin.do(e.method, e.path, e.body, "X-CSRF-Token", "not-the-token"); res.status != 403 {
				t.Errorf("admin with a wrong CSRF token: %d %s, want 403", res.status, res.body)
			}
			if res := admin.do(e.method, e.path, e.body, "Origin", "https://evil.example"); res.status != 403 || res.code() != "origin_not_allowed" {
				t.Errorf("admin from another site: %d %s, want 403 origin_not_allowed", res.status, res.body)
			}
		})
	}
	// None of the refused requests changed anything.
	var list struct{ Intents []struct{ Name string } }
	admin.t = t
	admin.must(200, "GET", "/v1/admin/intents", nil).decode(&list)
	if len(list.Intents) != 4 || list.Intents[1].Name != "returns" {
		t.Errorf("intents after refused requests: %+v", list.Intents)
	}
	if _, err := r.Store.AccountByUsername("newbie"); err == nil {
		t.Error("a refused request created an account")
	}
}

func TestCannedRepliesForAgents(t *testing.T) {
	r, _ := start(t, nil)
	agent := newAccount(t, r, "mei", store.RoleAgent)
	if res := anonymous(t, r).do("GET", "/v1/canned", nil); res.status != 401 {
		t.Errorf("canned without a session: %d", res.status)
	}
	var got struct {
		Canned []struct{ Name, Answer string }
	}
	agent.must(200, "GET", "/v1/canned", nil).decode(&got)
	// The demo intents: three answers and the hand-off, which has no canned reply.
	var names []string
	for _, c := range got.Canned {
		names = append(names, c.Name)
		if c.Answer == "" {
			t.Errorf("canned %q has no answer", c.Name)
		}
	}
	if len(names) != 3 || names[0] != "shipping" || names[2] != "opening_hours" {
		t.Errorf("canned replies %v, want shipping, returns, opening_hours", names)
	}
}

// GETs change nothing: a session's idle timer aside, the store's settings
// and accounts are byte-for-byte the same after every GET.
func TestGetsChangeNothing(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	snapshot := func() string {
		var b []byte
		for _, name := range []string{"intents", "intents.model", "widget", "ai"} {
			v, err := r.Store.SettingBytes(name)
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, v...)
		}
		accts, _ := r.Store.Accounts()
		for _, a := range accts {
			b = append(b, a.ID+a.Name+a.Role+a.PasswordHash...)
		}
		return string(b)
	}
	before := snapshot()
	for _, e := range endpoints {
		if e.method == "GET" {
			admin.do("GET", e.path, nil)
		}
	}
	if snapshot() != before {
		t.Error("a GET changed stored data")
	}
}
