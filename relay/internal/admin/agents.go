package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/kefuhq/kefu/relay/internal/auth"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// statusDisabled is shown for a disabled account instead of its presence.
const statusDisabled = "disabled"

// agentView is an account as the admin page shows it: never its password
// hash.
type agentView struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Skills    string    `json:"skills"`
	Capacity  int       `json:"capacity"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	Status    string    `json:"status"` // online, away, offline, disabled
	Load      int       `json:"load"`   // open chats assigned now
}

func (a *Admin) view(acct store.Account, live map[string]protocol.AgentInfo) agentView {
	v := agentView{ID: acct.ID, Username: acct.Username, Name: acct.Name, Role: acct.Role, Skills: acct.Skills,
		Capacity: acct.Capacity, Disabled: acct.Disabled, CreatedAt: acct.CreatedAt, Status: protocol.StatusOffline}
	if info, ok := live[acct.ID]; ok {
		v.Status, v.Load = info.Status, info.Load
	}
	if acct.Disabled {
		v.Status = statusDisabled
	}
	return v
}

func (a *Admin) liveAgents() map[string]protocol.AgentInfo {
	live := map[string]protocol.AgentInfo{}
	for _, info := range a.d.Router.Agents() {
		live[info.ID] = info
	}
	return live
}

func (a *Admin) listAgents(w http.ResponseWriter, r *http.Request) {
	accts, err := a.d.Store.Accounts()
	if err != nil {
		a.fail(w, r, "list agents", err)
		return
	}
	live := a.liveAgents()
	out := make([]agentView, 0, len(accts))
	for _, acct := range accts {
		out = append(out, a.view(acct, live))
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"agents": out})
}

func (a *Admin) createAgent(w http.ResponseWriter, r *http.Request) {
	var n auth.NewAccount
	if err := httpx.DecodeJSON(w, r, maxBodyBytes, &n); err != nil {
		return
	}
	if n.Role == "" {
		n.Role = store.RoleAgent
	}
	// auth's field errors are plain text: check here so they answer 400.
	if err := auth.CheckAccountFields(n.Username, n.Name, n.Role, n.Skills, n.Capacity); err != nil {
		badField(w, err.Error())
		return
	}
	acct, err := a.d.Auth.Svc.CreateAccount(r.Context(), n)
	if err != nil {
		a.fail(w, r, "create agent", err)
		return
	}
	a.d.Router.Upsert(r.Context(), acct)
	a.d.Log.Info("admin: account created", "username", acct.Username, "role", acct.Role, "by", who(r))
	httpx.JSON(w, http.StatusCreated, a.view(acct, a.liveAgents()))
}

// agentPatch changes some of an account's fields; absent ones stay.
type agentPatch struct {
	Name     *string `json:"name"`
	Skills   *string `json:"skills"`
	Capacity *int    `json:"capacity"`
	Role     *string `json:"role"`
	Disabled *bool   `json:"disabled"`
}

func (p agentPatch) apply(acct *store.Account) {
	if p.Name != nil {
		acct.Name = strings.TrimSpace(*p.Name)
	}
	if p.Skills != nil {
		acct.Skills = *p.Skills
	}
	if p.Capacity != nil {
		acct.Capacity = *p.Capacity
	}
	if p.Role != nil {
		acct.Role = *p.Role
	}
	if p.Disabled != nil {
		acct.Disabled = *p.Disabled
	}
}

func (a *Admin) editAgent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var p agentPatch
	if err := httpx.DecodeJSON(w, r, maxBodyBytes, &p); err != nil {
		return
	}
	me := auth.FromContext(r.Context()).Account
	if id == me.ID && ((p.Disabled != nil && *p.Disabled) || (p.Role != nil && *p.Role != store.RoleAdmin)) {
		a.fail(w, r, "edit agent", errConflict{"you cannot disable your own account or remove your own admin role; ask another admin"})
		return
	}
	before, after, err := a.updateAccount(r.Context(), id, p)
	if err != nil {
		a.fail(w, r, "edit agent", err)
		return
	}
	if after.Disabled && !before.Disabled {
		// Sessions first, so a console cannot reconnect in between; then the
		// router sends their open chats back to the queue.
		if err := a.d.Auth.Svc.EndAccountSessions(r.Context(), id, nil); err != nil {
			a.fail(w, r, "end sessions of disabled account", err)
			return
		}
	}
	a.d.Router.Upsert(r.Context(), after)
	a.d.Log.Info("admin: account changed", "username", after.Username, "role", after.Role, "disabled", after.Disabled, "by", who(r))
	httpx.JSON(w, http.StatusOK, a.view(after, a.liveAgents()))
}

// errLastAdmin refuses a change that would leave nobody able to sign in
// to the admin page.
var errLastAdmin = errConflict{"at least one enabled admin account must remain"}

// updateAccount applies p and validates the result. It keeps at least one
// enabled admin: the admins are counted before the write, so agentsMu
// serialises these edits (two admins demoting each other at once must not
// both succeed).
func (a *Admin) updateAccount(ctx context.Context, id string, p agentPatch) (before, after store.Account, err error) {
	a.agentsMu.Lock()
	defer a.agentsMu.Unlock()
	accts, err := a.d.Store.Accounts()
	if err != nil {
		return before, after, err
	}
	admins := 0
	for _, acct := range accts {
		if acct.Role == store.RoleAdmin && !acct.Disabled {
			admins++
		}
	}
	after, err = a.d.Store.UpdateAccount(ctx, id, func(acct *store.Account) error {
		before = *acct
		p.apply(acct)
		if err := auth.CheckAccountFields(acct.Username, acct.Name, acct.Role, acct.Skills, acct.Capacity); err != nil {
			return errBadAccount{err}
		}
		wasAdmin := before.Role == store.RoleAdmin && !before.Disabled
		isAdmin := acct.Role == store.RoleAdmin && !acct.Disabled
		if wasAdmin && !isAdmin && admins <= 1 {
			return errLastAdmin
		}
		return nil
	})
	var bad errBadAccount
	if errors.As(err, &bad) {
		return before, after, protocolBadField(bad.err.Error())
	}
	return before, after, err
}

// errBadAccount carries a field error out of the store's write.
type errBadAccount struct{ err error }

func (e errBadAccount) Error() string { return e.err.Error() }

func protocolBadField(msg string) error { return protocol.Errorf(protocol.CodeBadField, msg) }

type passwordReset struct {
	Password string `json:"password"`
}

// resetPassword sets someone's password (they forgot it, or it leaked)
// and signs them out everywhere; resetting your own keeps this session.
func (a *Admin) resetPassword(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req passwordReset
	if err := httpx.DecodeJSON(w, r, maxBodyBytes, &req); err != nil {
		return
	}
	if err := auth.CheckPassword(req.Password); err != nil {
		a.fail(w, r, "reset password", err)
		return
	}
	if _, err := a.d.Store.Account(id); err != nil {
		a.fail(w, r, "reset password", err)
		return
	}
	var keep []byte
	if p := auth.FromContext(r.Context()); p.Account.ID == id {
		keep = auth.HashSession(p.SessionID)
	}
	if err := a.d.Auth.Svc.SetPassword(r.Context(), id, req.Password, keep); err != nil {
		a.fail(w, r, "reset password", err)
		return
	}
	a.d.Log.Info("admin: password reset", "account", id, "by", who(r))
	w.WriteHeader(http.StatusNoContent)
}
