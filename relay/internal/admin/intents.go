package admin

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/intents"
	"github.com/kefuhq/kefu/relay/internal/site"
	"github.com/kefuhq/kefu/router"
)

// intentList is GET /v1/admin/intents.
type intentList struct {
	Intents []router.Intent `json:"intents"`
	Model   modelInfo       `json:"model"`
	// Languages are those an answer may be written in: the widget's.
	Languages []site.Language `json:"languages"`
}

// modelInfo names the model widgets download now ("" with no intents).
type modelInfo struct {
	Hash    string `json:"hash"`
	Intents int    `json:"intents"`
}

func (a *Admin) modelInfo() modelInfo {
	m, _, hash := a.d.Intents.Model()
	info := modelInfo{Hash: hash}
	if m != nil {
		info.Intents = len(m.Intents())
	}
	return info
}

func (a *Admin) listIntents(w http.ResponseWriter, r *http.Request) {
	list := a.d.Intents.List()
	if list == nil {
		list = []router.Intent{}
	}
	httpx.JSON(w, http.StatusOK, intentList{Intents: list, Model: a.modelInfo(), Languages: site.Languages()})
}

// exists reports whether an intent has this name; call with intentsMu held.
func (a *Admin) exists(name string) bool {
	return slices.ContainsFunc(a.d.Intents.List(), func(in router.Intent) bool { return in.Name == name })
}

// intentSaved answers a create or an edit: the intent as stored and the
// model widgets will now load. The model is refitted before the answer, so
// the next widget config already names it.
type intentSaved struct {
	Intent router.Intent `json:"intent"`
	Model  modelInfo     `json:"model"`
}

func (a *Admin) createIntent(w http.ResponseWriter, r *http.Request) {
	var in router.Intent
	if err := httpx.DecodeJSON(w, r, maxIntentBytes, &in); err != nil {
		return
	}
	a.intentsMu.Lock()
	defer a.intentsMu.Unlock()
	if a.exists(in.Name) {
		a.fail(w, r, "create intent", errConflict{"an intent named " + strconv.Quote(in.Name) + " already exists"})
		return
	}
	if err := a.d.Intents.Put(r.Context(), "", in); err != nil {
		a.fail(w, r, "create intent", err)
		return
	}
	a.d.Log.Info("admin: intent created", "intent", in.Name, "by", who(r))
	httpx.JSON(w, http.StatusCreated, intentSaved{Intent: in, Model: a.modelInfo()})
}

// editIntent replaces the intent named in the path; a different name in
// the body renames it.
func (a *Admin) editIntent(w http.ResponseWriter, r *http.Request) {
	old := r.PathValue("name")
	var in router.Intent
	if err := httpx.DecodeJSON(w, r, maxIntentBytes, &in); err != nil {
		return
	}
	a.intentsMu.Lock()
	defer a.intentsMu.Unlock()
	if !a.exists(old) {
		a.fail(w, r, "edit intent", intents.ErrNotFound)
		return
	}
	if in.Name != old && a.exists(in.Name) {
		a.fail(w, r, "edit intent", errConflict{"an intent named " + strconv.Quote(in.Name) + " already exists"})
		return
	}
	if err := a.d.Intents.Put(r.Context(), old, in); err != nil {
		a.fail(w, r, "edit intent", err)
		return
	}
	a.d.Log.Info("admin: intent saved", "intent", in.Name, "was", old, "by", who(r))
	httpx.JSON(w, http.StatusOK, intentSaved{Intent: in, Model: a.modelInfo()})
}

func (a *Admin) deleteIntent(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	a.intentsMu.Lock()
	defer a.intentsMu.Unlock()
	if err := a.d.Intents.Delete(r.Context(), name); err != nil {
		a.fail(w, r, "delete intent", err)
		return
	}
	a.d.Log.Info("admin: intent deleted", "intent", name, "by", who(r))
	w.WriteHeader(http.StatusNoContent)
}

// canned is GET /v1/canned: the answers an agent can paste, from the
// answer-type intents.
func (a *Admin) canned(w http.ResponseWriter, r *http.Request) {
	type reply struct {
		Name   string `json:"name"`
		Answer string `json:"answer"`
	}
	out := []reply{}
	for _, in := range a.d.Intents.List() {
		if (in.Action == router.ActionAnswer || in.Action == "") && in.Answer != "" {
			out = append(out, reply{Name: in.Name, Answer: in.Answer})
		}
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"canned": out})
}
