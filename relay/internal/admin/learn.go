package admin

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kefuhq/kefu/relay/internal/auth"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/intents"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/router"
)

// Learning from what the bot missed (issue 14): the questions visitors
// asked that no intent answered are read from the stored messages — the
// same in every storage backend, and gone with the visitor when they are
// erased — and become examples of an intent, or new intents, in one step.
const (
	// learnWindow and learnMaxConversations bound the scan behind the
	// suggestions: the most recently active conversations of the last
	// month, at most this many.
	learnWindow           = 30 * 24 * time.Hour
	learnMaxConversations = 500
	// learnMaxQuestions bounds the questions grouped (newest first).
	learnMaxQuestions = 400
	// dismissedMax bounds the dismissed questions remembered; the oldest
	// go first (they have left the window by then).
	dismissedMax = 5000
	// learnCandidates is how many intents are suggested for a question.
	learnCandidates = 3
	settingLearn    = "learn"
)

// learnDoc is the stored "learn" setting.
type learnDoc struct {
	// Agents lets agents, not only admins, teach the bot from the console.
	Agents    bool        `json:"agents"`
	Dismissed []dismissal `json:"dismissed,omitempty"`
}

// dismissal is one question an admin set aside: its place, never its text.
type dismissal struct {
	Conv string    `json:"c"`
	Seq  uint64    `json:"s"`
	At   time.Time `json:"at"`
}

// questionRef names a stored visitor message.
type questionRef struct {
	ConversationID string `json:"conversation_id"`
	Seq            uint64 `json:"seq"`
}

// missedQuestion is a visitor message no intent answered.
type missedQuestion struct {
	ConversationID string    `json:"conversation_id"`
	Seq            uint64    `json:"seq"`
	Text           string    `json:"text"`
	Time           time.Time `json:"time"`
}

func (a *Admin) learnSettings() (learnDoc, error) {
	var d learnDoc
	_, err := a.d.Store.Setting(settingLearn, &d)
	return d, err
}

// getLearn is GET /v1/admin/learn: whether agents may teach the bot.
func (a *Admin) getLearn(w http.ResponseWriter, r *http.Request) {
	d, err := a.learnSettings()
	if err != nil {
		a.fail(w, r, "learn settings", err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]bool{"agents": d.Agents})
}

// putLearn is PUT /v1/admin/learn {agents}.
func (a *Admin) putLearn(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Agents *bool `json:"agents"`
	}
	if err := httpx.DecodeJSON(w, r, maxBodyBytes, &body); err != nil {
		return
	}
	if body.Agents == nil {
		badField(w, "agents (true or false) is required")
		return
	}
	a.learnMu.Lock()
	defer a.learnMu.Unlock()
	d, err := a.learnSettings()
	if err == nil {
		d.Agents = *body.Agents
		err = a.d.Store.PutSetting(r.Context(), settingLearn, d)
	}
	if err != nil {
		a.fail(w, r, "learn settings", err)
		return
	}
	a.d.Log.Info("admin: agents may teach the bot", "agents", d.Agents, "by", who(r))
	httpx.JSON(w, http.StatusOK, map[string]bool{"agents": d.Agents})
}

// suggestionGroup is a group of similar missed questions, with the
// intents they come closest to.
type suggestionGroup struct {
	Questions  []missedQuestion `json:"questions"`
	Candidates []router.Match   `json:"candidates"`
}

// suggestions is GET /v1/admin/intents/suggestions: the recent questions
// that went to the AI or a person, grouped by similarity, newest first
// within a group, largest group first. Questions the intents answer now
// (someone taught the bot since) and dismissed ones are left out.
func (a *Admin) suggestions(w http.ResponseWriter, r *http.Request) {
	d, err := a.learnSettings()
	if err != nil {
		a.fail(w, r, "suggestions", err)
		return
	}
	gone := map[questionRef]bool{}
	for _, x := range d.Dismissed {
		gone[questionRef{x.Conv, x.Seq}] = true
	}
	recent, nConvs, err := store.RecentMissed(a.d.Store, a.d.Now().Add(-learnWindow), learnMaxConversations)
	if err != nil {
		a.fail(w, r, "suggestions", err)
		return
	}
	var qs []missedQuestion
	for _, m := range recent {
		if gone[questionRef{m.ConversationID, m.Seq}] || a.d.Intents.Classify(m.Text).Matched {
			continue
		}
		qs = append(qs, missedQuestion{ConversationID: m.ConversationID, Seq: m.Seq, Text: m.Text, Time: m.Time})
	}
	qs = qs[:min(len(qs), learnMaxQuestions)]
	texts := make([]string, len(qs))
	for i, q := range qs {
		texts[i] = q.Text
	}
	groups, err := router.Group(texts, 0)
	if err != nil {
		a.fail(w, r, "suggestions", err)
		return
	}
	out := make([]suggestionGroup, 0, len(groups))
	for _, g := range groups {
		sg := suggestionGroup{Questions: make([]missedQuestion, 0, len(g))}
		var gt []string
		for _, i := range g {
			sg.Questions = append(sg.Questions, qs[i])
			gt = append(gt, qs[i].Text)
		}
		sg.Candidates = a.candidates(gt...)
		out = append(out, sg)
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"groups": out, "conversations": nConvs, "questions": len(qs)})
}

// candidates returns the answer intents texts come closest to, by their
// mean score, best first (at most learnCandidates).
func (a *Admin) candidates(texts ...string) []router.Match {
	answers := map[string]bool{}
	for _, in := range a.d.Intents.List() {
		if in.Action == router.ActionAnswer || in.Action == "" {
			answers[in.Name] = true
		}
	}
	sum := map[string]float64{}
	for _, t := range texts {
		for _, m := range a.d.Intents.Classify(t).Ranked {
			if answers[m.Intent] {
				sum[m.Intent] += m.Score / float64(len(texts))
			}
		}
	}
	out := make([]router.Match, 0, len(sum))
	for name, s := range sum {
		out = append(out, router.Match{Intent: name, Score: s})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Intent < out[j].Intent
	})
	return out[:min(len(out), learnCandidates)]
}

// dismiss is POST /v1/admin/intents/suggestions/dismiss {questions:
// [{conversation_id, seq}]}: they are no longer suggested. Only their
// places are kept, never their text; places whose conversation is gone
// (erased, or past retention) are dropped as new ones come.
func (a *Admin) dismiss(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Questions []questionRef `json:"questions"`
	}
	if err := httpx.DecodeJSON(w, r, maxBodyBytes, &body); err != nil {
		return
	}
	if len(body.Questions) == 0 || len(body.Questions) > learnMaxQuestions {
		badField(w, "questions: give 1 to 400 {conversation_id, seq}")
		return
	}
	a.learnMu.Lock()
	defer a.learnMu.Unlock()
	d, err := a.learnSettings()
	if err != nil {
		a.fail(w, r, "dismiss suggestions", err)
		return
	}
	now := a.d.Now()
	have := map[questionRef]bool{}
	for _, x := range d.Dismissed {
		have[questionRef{x.Conv, x.Seq}] = true
	}
	for _, q := range body.Questions {
		if q.ConversationID == "" || q.Seq == 0 {
			badField(w, "questions: each needs conversation_id and seq")
			return
		}
		if !have[q] {
			have[q] = true
			d.Dismissed = append(d.Dismissed, dismissal{Conv: q.ConversationID, Seq: q.Seq, At: now})
		}
	}
	d.Dismissed = slices.DeleteFunc(d.Dismissed, func(x dismissal) bool {
		_, err := a.d.Store.Conversation(x.Conv)
		return x.At.Before(now.Add(-learnWindow)) || err != nil
	})
	if n := len(d.Dismissed) - dismissedMax; n > 0 {
		d.Dismissed = d.Dismissed[n:]
	}
	if err := a.d.Store.PutSetting(r.Context(), settingLearn, d); err != nil {
		a.fail(w, r, "dismiss suggestions", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// addExamples adds examples to the intent name (those it has already,
// whitespace and case aside, are skipped) and refits; added says how
// many were new. Call with intentsMu held.
func (a *Admin) addExamples(ctx context.Context, name string, examples []string) (in router.Intent, added int, err error) {
	i := slices.IndexFunc(a.d.Intents.List(), func(x router.Intent) bool { return x.Name == name })
	if i < 0 {
		return in, 0, intents.ErrNotFound
	}
	in = a.d.Intents.List()[i]
	in.Examples = slices.Clone(in.Examples)
	key := func(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }
	seen := map[string]bool{}
	for _, ex := range in.Examples {
		seen[key(ex)] = true
	}
	for _, ex := range examples {
		ex = strings.Join(strings.Fields(ex), " ")
		if ex == "" || seen[key(ex)] {
			continue
		}
		seen[key(ex)] = true
		in.Examples = append(in.Examples, ex)
		added++
	}
	if added == 0 {
		return in, 0, nil
	}
	return in, added, a.d.Intents.Put(ctx, name, in)
}

// postExamples is POST /v1/admin/intents/{name}/examples {examples}: the
// admin page's "add to intent X" for a group of questions.
func (a *Admin) postExamples(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Examples []string `json:"examples"`
	}
	if err := httpx.DecodeJSON(w, r, maxIntentBytes, &body); err != nil {
		return
	}
	if len(body.Examples) == 0 {
		badField(w, "examples: give at least one")
		return
	}
	a.intentsMu.Lock()
	defer a.intentsMu.Unlock()
	in, added, err := a.addExamples(r.Context(), r.PathValue("name"), body.Examples)
	if err != nil {
		a.fail(w, r, "add examples", err)
		return
	}
	a.d.Log.Info("admin: examples added", "intent", in.Name, "added", added, "by", who(r))
	httpx.JSON(w, http.StatusOK, map[string]any{"intent": in, "added": added, "model": a.modelInfo()})
}

// mayTeach reports whether the signed-in person may teach the bot from
// the console: admins always, agents when an admin allowed it.
func (a *Admin) mayTeach(r *http.Request) (bool, error) {
	p := auth.FromContext(r.Context())
	if p == nil {
		return false, nil
	}
	if p.Account.Role == store.RoleAdmin {
		return true, nil
	}
	d, err := a.learnSettings()
	return d.Agents, err
}
