package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/kefuhq/kefu/relay/internal/auth"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// Privacy is data rights and retention (privacy.Service).
type Privacy interface {
	Find(q privacy.Query) ([]privacy.Found, error)
	Export(ids []string) (privacy.Export, error)
	ExportConversation(c store.Conversation) (privacy.ConversationExport, error)
	Erase(ctx context.Context, ids []string, by string) (privacy.Receipt, error)
	Requests() ([]privacy.Request, error)
	Dismiss(ctx context.Context, visitorID string) error
	Audit() ([]privacy.AuditEntry, error)
	Retention() (privacy.Retention, error)
	SetRetention(ctx context.Context, r privacy.Retention) error
	SweepStatus() (privacy.SweepStatus, error)
}

// maxIDs bounds the visitors one export or erasure names.
const maxIDs = 1000

func (a *Admin) privacyRoutes(admin func(string, http.HandlerFunc)) {
	admin("GET /v1/admin/visitors", a.findVisitors)
	admin("POST /v1/admin/visitors/export", a.exportVisitors)
	admin("POST /v1/admin/visitors/erase", a.eraseVisitors)
	admin("GET /v1/admin/privacy/requests", a.listRequests)
	admin("DELETE /v1/admin/privacy/requests/{visitor}", a.dismissRequest)
	admin("GET /v1/admin/privacy/audit", a.listAudit)
	admin("GET /v1/admin/retention", a.getRetention)
	admin("PUT /v1/admin/retention", a.putRetention)
	admin("GET /v1/admin/conversations/export", a.exportConversations)
	admin("DELETE /v1/admin/agents/{id}", a.deleteAgent)
}

// findVisitors is GET /v1/admin/visitors?id=… | email=… | trait=…&value=… | hash=….
func (a *Admin) findVisitors(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	found, err := a.d.Privacy.Find(privacy.Query{ID: q.Get("id"), Email: q.Get("email"), Trait: q.Get("trait"), Value: q.Get("value"), Hash: q.Get("hash")})
	if errors.Is(err, privacy.ErrBadQuery) {
		badField(w, err.Error())
		return
	}
	if err != nil {
		a.fail(w, r, "find visitors", err)
		return
	}
	if found == nil {
		found = []privacy.Found{}
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"visitors": found})
}

type idList struct {
	IDs []string `json:"ids"`
}

func (a *Admin) readIDs(w http.ResponseWriter, r *http.Request) ([]string, bool) {
	var req idList
	if err := httpx.DecodeJSON(w, r, maxBodyBytes, &req); err != nil {
		return nil, false
	}
	if len(req.IDs) == 0 || len(req.IDs) > maxIDs {
		badField(w, fmt.Sprintf("ids must list 1 to %d visitor ids", maxIDs))
		return nil, false
	}
	return req.IDs, true
}

// exportVisitors is POST /v1/admin/visitors/export {"ids": […]}: every
// record of theirs as one JSON document to download.
func (a *Admin) exportVisitors(w http.ResponseWriter, r *http.Request) {
	ids, ok := a.readIDs(w, r)
	if !ok {
		return
	}
	exp, err := a.d.Privacy.Export(ids)
	if err != nil {
		a.fail(w, r, "export visitors", err)
		return
	}
	a.d.Log.Info("admin: visitors exported", "visitors", privacy.HashIDs(ids), "by", who(r))
	w.Header().Set("Content-Disposition", `attachment; filename="kefu-visitor-export.json"`)
	httpx.JSON(w, http.StatusOK, exp)
}

// eraseVisitors is POST /v1/admin/visitors/erase {"ids": […]}.
func (a *Admin) eraseVisitors(w http.ResponseWriter, r *http.Request) {
	ids, ok := a.readIDs(w, r)
	if !ok {
		return
	}
	receipt, err := a.d.Privacy.Erase(r.Context(), ids, who(r))
	if err != nil {
		a.fail(w, r, "erase visitors", err)
		return
	}
	httpx.JSON(w, http.StatusOK, receipt)
}

// requestView is a pending request with who it is, as far as still known.
type requestView struct {
	privacy.Request
	Found *privacy.Found `json:"found,omitempty"`
}

func (a *Admin) listRequests(w http.ResponseWriter, r *http.Request) {
	reqs, err := a.d.Privacy.Requests()
	if err != nil {
		a.fail(w, r, "erasure requests", err)
		return
	}
	out := make([]requestView, 0, len(reqs))
	for _, req := range reqs {
		v := requestView{Request: req}
		if found, err := a.d.Privacy.Find(privacy.Query{ID: req.VisitorID}); err == nil && len(found) == 1 {
			v.Found = &found[0]
		}
		out = append(out, v)
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"requests": out})
}

func (a *Admin) dismissRequest(w http.ResponseWriter, r *http.Request) {
	if err := a.d.Privacy.Dismiss(r.Context(), r.PathValue("visitor")); err != nil {
		a.fail(w, r, "dismiss erasure request", err)
		return
	}
	a.d.Log.Info("admin: erasure request dismissed", "visitor", privacy.HashID(r.PathValue("visitor")), "by", who(r))
	w.WriteHeader(http.StatusNoContent)
}

func (a *Admin) listAudit(w http.ResponseWriter, r *http.Request) {
	entries, err := a.d.Privacy.Audit()
	if err != nil {
		a.fail(w, r, "privacy audit", err)
		return
	}
	if entries == nil {
		entries = []privacy.AuditEntry{}
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"entries": entries})
}

func (a *Admin) getRetention(w http.ResponseWriter, r *http.Request) {
	ret, err := a.d.Privacy.Retention()
	if err != nil {
		a.fail(w, r, "retention", err)
		return
	}
	st, err := a.d.Privacy.SweepStatus()
	if err != nil {
		a.fail(w, r, "retention", err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"retention": ret, "sweep": st})
}

func (a *Admin) putRetention(w http.ResponseWriter, r *http.Request) {
	var ret privacy.Retention
	if err := httpx.DecodeJSON(w, r, maxBodyBytes, &ret); err != nil {
		return
	}
	if err := ret.Validate(); err != nil {
		badField(w, err.Error())
		return
	}
	if err := a.d.Privacy.SetRetention(r.Context(), ret); err != nil {
		a.fail(w, r, "set retention", err)
		return
	}
	a.d.Log.Info("admin: retention changed", "closed_days", ret.ClosedDays, "inactive_days", ret.InactiveDays, "by", who(r))
	a.getRetention(w, r)
}

// exportConversations is GET /v1/admin/conversations/export: many
// conversations with their transcripts in one JSON document, written as
// it is read (a shop's whole history fits, not in memory at once). The
// list's filters apply (status, handler, agent, intent), and since/until
// (Unix ms) bound the last activity.
func (a *Admin) exportConversations(w http.ResponseWriter, r *http.Request) {
	f, problem := parseConvFilter(r)
	if problem != "" {
		badField(w, problem)
		return
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "csv" {
		badField(w, `format must be "json" or "csv"`)
		return
	}
	var since, until time.Time
	for name, dst := range map[string]*time.Time{"since": &since, "until": &until} {
		if v := r.URL.Query().Get(name); v != "" {
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ms < 0 {
				badField(w, name+" must be a time in Unix milliseconds")
				return
			}
			*dst = time.UnixMilli(ms)
		}
	}
	convs, err := a.d.Store.Conversations(func(c *store.Conversation) bool {
		return f.keep(c) && (since.IsZero() || !c.UpdatedAt.Before(since)) && (until.IsZero() || c.UpdatedAt.Before(until))
	})
	if err != nil {
		a.fail(w, r, "export conversations", err)
		return
	}
	if format == "csv" {
		n, err := a.writeCSV(w, convs)
		if err != nil {
			a.d.Log.Error("admin: export conversations (CSV)", "exported", n, "err", err)
			return
		}
		a.d.Log.Info("admin: conversations exported", "count", n, "format", "csv", "by", who(r))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="kefu-conversations.json"`)
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, `{"exported_at":%q,"count":%d,"conversations":[`, time.Now().UTC().Format(time.RFC3339), len(convs))
	enc := json.NewEncoder(w)
	for i, c := range convs {
		ce, err := a.d.Privacy.ExportConversation(c)
		if err != nil {
			// The status is sent: end the document visibly broken rather
			// than pass a partial export off as whole.
			a.d.Log.Error("admin: export conversations", "conversation", c.ID, "err", err)
			fmt.Fprintf(w, `],"error":%q}`, "export stopped at conversation "+c.ID+": "+err.Error())
			return
		}
		if i > 0 {
			w.Write([]byte{','})
		}
		if err := enc.Encode(ce); err != nil {
			return // the client went away
		}
	}
	w.Write([]byte("]}\n"))
	a.d.Log.Info("admin: conversations exported", "count", len(convs), "by", who(r))
}

// deleteAgent is DELETE /v1/admin/agents/{id}: the account goes for good
// (disabling keeps it). It is disabled first, so its sessions end and its
// open chats go back to the queue; then the account, its username and
// sessions are deleted. Messages it wrote keep their text and the name
// they were signed with; the account id in them points to nothing.
func (a *Admin) deleteAgent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if me := auth.FromContext(r.Context()).Account; id == me.ID {
		a.fail(w, r, "delete agent", errConflict{"you cannot delete your own account; ask another admin"})
		return
	}
	disabled := true
	_, after, err := a.updateAccount(r.Context(), id, agentPatch{Disabled: &disabled})
	if err != nil {
		a.fail(w, r, "delete agent", err)
		return
	}
	if err := a.d.Auth.Svc.EndAccountSessions(r.Context(), id, nil); err != nil {
		a.fail(w, r, "delete agent", err)
		return
	}
	a.d.Router.Upsert(r.Context(), after)
	if _, err := a.d.Store.DeleteAccount(r.Context(), id); err != nil {
		a.fail(w, r, "delete agent", err)
		return
	}
	a.d.Log.Info("admin: account deleted", "account", id, "by", who(r))
	w.WriteHeader(http.StatusNoContent)
}
