package admin_test

import (
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

type agentView struct {
	ID, Username, Name, Role, Skills, Status string
	Capacity, Load                           int
	Disabled                                 bool
	PasswordHash                             string `json:"password_hash"`
}

func agentsOf(t *testing.T, admin *browser) map[string]agentView {
	t.Helper()
	var list struct{ Agents []agentView }
	admin.must(200, "GET", "/v1/admin/agents", nil).decode(&list)
	out := map[string]agentView{}
	for _, a := range list.Agents {
		if a.PasswordHash != "" {
			t.Errorf("agent list shows %s's password hash", a.Username)
		}
		out[a.Username] = a
	}
	return out
}

func TestAgentCreateListEdit(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	var mei agentView
	admin.must(201, "POST", "/v1/admin/agents", map[string]any{"username": "mei", "name": "Mei", "password": "mei-password-1",
		"skills": "shipping returns", "capacity": 4}).decode(&mei)
	if mei.Role != "agent" || mei.Status != "offline" || mei.Capacity != 4 {
		t.Errorf("created %+v", mei)
	}
	meiBrowser := signIn(t, r, "mei", "mei-password-1")
	meiBrowser.agentSocket()
	if got := agentsOf(t, admin)["mei"]; got.Status != "online" || got.Load != 0 {
		t.Errorf("listed %+v, want online with no load", got)
	}

	var edited agentView
	admin.must(200, "PATCH", "/v1/admin/agents/"+mei.ID, map[string]any{"skills": "billing", "capacity": 7, "name": "Mei Lin"}).decode(&edited)
	if edited.Skills != "billing" || edited.Capacity != 7 || edited.Name != "Mei Lin" || edited.Role != "agent" {
		t.Errorf("edited %+v", edited)
	}
	// The router took the change: consoles see the new capacity.
	waitFor(t, "the router's view of the edit", func() bool {
		for _, a := range r.App.Router().Agents() {
			if a.ID == mei.ID && a.Capacity == 7 && a.Name == "Mei Lin" {
				return true
			}
		}
		return false
	})

	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               protocol.Code
	}{
		{"username taken", "POST", "/v1/admin/agents", map[string]any{"username": "MEI", "name": "M", "password": "long-enough-pw", "capacity": 1}, 409, protocol.CodeConflict},
		{"short password", "POST", "/v1/admin/agents", map[string]any{"username": "bo", "name": "Bo", "password": "short", "capacity": 1}, 400, protocol.CodeBadField},
		{"bad username", "POST", "/v1/admin/agents", map[string]any{"username": "b o", "name": "Bo", "password": "long-enough-pw", "capacity": 1}, 400, protocol.CodeBadField},
		{"capacity too high", "POST", "/v1/admin/agents", map[string]any{"username": "bo", "name": "Bo", "password": "long-enough-pw", "capacity": 101}, 400, protocol.CodeBadField},
		{"unknown role", "PATCH", "/v1/admin/agents/" + mei.ID, map[string]any{"role": "owner"}, 400, protocol.CodeBadField},
		{"blank name", "PATCH", "/v1/admin/agents/" + mei.ID, map[string]any{"name": "  "}, 400, protocol.CodeBadField},
		{"negative capacity", "PATCH", "/v1/admin/agents/" + mei.ID, map[string]any{"capacity": -1}, 400, protocol.CodeBadField},
		{"username cannot change", "PATCH", "/v1/admin/agents/" + mei.ID, map[string]any{"username": "mei2"}, 400, protocol.CodeUnknownField},
		{"no such account", "PATCH", "/v1/admin/agents/nobody", map[string]any{"capacity": 1}, 404, protocol.CodeNotFound},
		{"disable yourself", "PATCH", "/v1/admin/agents/" + admin.user.ID, map[string]any{"disabled": true}, 409, protocol.CodeConflict},
		{"demote yourself", "PATCH", "/v1/admin/agents/" + admin.user.ID, map[string]any{"role": "agent"}, 409, protocol.CodeConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admin.t = t
			res := admin.do(tt.method, tt.path, tt.body)
			if res.status != tt.status || res.code() != string(tt.code) {
				t.Errorf("got %d %s, want %d %s", res.status, res.body, tt.status, tt.code)
			}
		})
	}
	admin.t = t
	if got := agentsOf(t, admin)["mei"]; got.Skills != "billing" || got.Capacity != 7 || got.Name != "Mei Lin" {
		t.Errorf("refused edits changed the account: %+v", got)
	}

	// Promoting an agent makes them an admin at their next request.
	admin.must(200, "PATCH", "/v1/admin/agents/"+mei.ID, map[string]any{"role": "admin"})
	meiBrowser.must(200, "GET", "/v1/admin/agents", nil)
}

func TestDisablingAnAgentClosesTheirSocketsAndSessions(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	var mei agentView
	admin.must(201, "POST", "/v1/admin/agents", map[string]any{"username": "mei", "name": "Mei", "password": "mei-password-1", "capacity": 3}).decode(&mei)
	meiBrowser := signIn(t, r, "mei", "mei-password-1")
	sock := meiBrowser.agentSocket()
	second := meiBrowser.agentSocket()

	// A chat assigned to Mei goes back to the queue when she is disabled.
	v := newVisitor(t, r)
	v.send(t, "I want to talk to a person")
	waitFor(t, "the chat assigned to Mei", func() bool { return conversation(t, r, v.conv).AgentID == mei.ID })

	began := time.Now()
	var got agentView
	admin.must(200, "PATCH", "/v1/admin/agents/"+mei.ID, map[string]any{"disabled": true}).decode(&got)
	if got.Status != "disabled" || !got.Disabled {
		t.Errorf("after disabling: %+v", got)
	}
	for i, s := range []*agentSocket{sock, second} {
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			t.Fatalf("socket %d still open 5 s after disabling", i)
		}
		if s.code != protocol.CloseUnauthorized {
			t.Errorf("socket %d closed with %d, want %d", i, s.code, protocol.CloseUnauthorized)
		}
	}
	t.Logf("both sockets closed %s after the PATCH was sent", time.Since(began).Round(time.Millisecond))
	if res := meiBrowser.do("GET", "/v1/canned", nil); res.status != 401 {
		t.Errorf("disabled agent's session still works: %d", res.status)
	}
	if res := anonymous(t, r).do("POST", "/v1/auth/login", map[string]string{"username": "mei", "password": "mei-password-1"}); res.status != 401 {
		t.Errorf("disabled agent can sign in: %d", res.status)
	}
	waitFor(t, "the chat back in the queue", func() bool { return conversation(t, r, v.conv).Handler == store.HandlerQueue })
	for _, a := range r.App.Router().Agents() {
		if a.ID == mei.ID {
			t.Errorf("the router still routes to the disabled agent: %+v", a)
		}
	}

	// Enabled again, she can sign in and is routable.
	admin.must(200, "PATCH", "/v1/admin/agents/"+mei.ID, map[string]any{"disabled": false})
	signIn(t, r, "mei", "mei-password-1").agentSocket()
	waitFor(t, "the queued chat assigned to Mei again", func() bool { return conversation(t, r, v.conv).AgentID == mei.ID })
}

func TestResetPassword(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	mei := newAccount(t, r, "mei", store.RoleAgent)
	sock := mei.agentSocket()
	if res := admin.do("POST", "/v1/admin/agents/"+mei.user.ID+"/password", map[string]string{"password": "short"}); res.status != 400 || res.code() != "bad_field" {
		t.Errorf("short password: %d %s", res.status, res.body)
	}
	if res := admin.do("POST", "/v1/admin/agents/nobody/password", map[string]string{"password": "a-new-password"}); res.status != 404 {
		t.Errorf("no such account: %d %s", res.status, res.body)
	}
	admin.must(204, "POST", "/v1/admin/agents/"+mei.user.ID+"/password", map[string]string{"password": "a-new-password"})
	select {
	case <-sock.done:
	case <-time.After(5 * time.Second):
		t.Fatal("socket still open 5 s after the password reset")
	}
	if res := anonymous(t, r).do("POST", "/v1/auth/login", map[string]string{"username": "mei", "password": "password-mei"}); res.status != 401 {
		t.Errorf("old password still works: %d", res.status)
	}
	signIn(t, r, "mei", "a-new-password")

	// Resetting your own password keeps the session you did it from.
	admin.must(204, "POST", "/v1/admin/agents/"+admin.user.ID+"/password", map[string]string{"password": "another-admin-pw"})
	admin.must(200, "GET", "/v1/admin/agents", nil)
}
