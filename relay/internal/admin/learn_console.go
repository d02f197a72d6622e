package admin

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/kefuhq/kefu/router"
)

// The console's side of learning (issue 14): under a question the bot
// missed, the intents it came closest to (one click adds it to one) and
// "new intent" with one of the agent's replies as the answer. The relay
// reads the question and the reply from the store: the browser names
// them, it does not supply their text.

// missedInConversation is one missed question and the intents it is near.
type missedInConversation struct {
	Seq        uint64         `json:"seq"`
	Text       string         `json:"text"`
	Candidates []router.Match `json:"candidates"`
}

// reply is a person's message that may become a new intent's answer.
type reply struct {
	Seq  uint64 `json:"seq"`
	Text string `json:"text"`
}

// learnConversation is GET /v1/learn/conversations/{id}: whether the
// signed-in person may teach the bot, and if so the conversation's
// missed questions and the people's replies.
func (a *Admin) learnConversation(w http.ResponseWriter, r *http.Request) {
	ok, err := a.mayTeach(r)
	if err != nil {
		a.fail(w, r, "learn", err)
		return
	}
	if !ok {
		httpx.JSON(w, http.StatusOK, map[string]any{"allowed": false})
		return
	}
	msgs, err := a.d.Store.Messages(r.PathValue("id"), 0, 0)
	if err != nil {
		a.fail(w, r, "learn", err)
		return
	}
	qs := []missedInConversation{}
	for _, m := range store.Missed(msgs) {
		if a.d.Intents.Classify(m.Text).Matched {
			continue // taught since
		}
		qs = append(qs, missedInConversation{Seq: m.Seq, Text: m.Text, Candidates: a.candidates(m.Text)})
	}
	replies := []reply{}
	for _, m := range msgs {
		if m.From == protocol.FromAgent && m.Text != "" {
			replies = append(replies, reply{Seq: m.Seq, Text: m.Text})
		}
	}
	var names []string
	for _, in := range a.d.Intents.List() {
		if in.Action == router.ActionAnswer || in.Action == "" {
			names = append(names, in.Name)
		}
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"allowed": true, "questions": qs, "replies": replies, "intents": names})
}

// message reads one stored message, which must be from.
func (a *Admin) message(convID string, seq uint64, from string) (store.Message, error) {
	if convID == "" || seq == 0 {
		return store.Message{}, protocolBadField("conversation_id and seq are required")
	}
	msgs, err := a.d.Store.Messages(convID, seq-1, 1)
	if err != nil {
		return store.Message{}, err
	}
	if len(msgs) == 0 || msgs[0].Seq != seq {
		return store.Message{}, store.ErrNotFound
	}
	if msgs[0].From != from {
		return store.Message{}, protocolBadField("message " + strconv.FormatUint(seq, 10) + " is not from the " + from)
	}
	return msgs[0], nil
}

// teachGate answers 403 unless the signed-in person may teach the bot.
func (a *Admin) teachGate(w http.ResponseWriter, r *http.Request) bool {
	ok, err := a.mayTeach(r)
	if err != nil {
		a.fail(w, r, "learn", err)
		return false
	}
	if !ok {
		httpx.Error(w, http.StatusForbidden, protocol.CodeForbidden, "only admins teach the bot here; an admin can allow agents (Intents tab)")
		return false
	}
	return true
}

// learnExample is POST /v1/learn/example {conversation_id, seq, intent}:
// the visitor's question becomes an example of the intent, and the model
// is refitted (widgets load it as after any change of the intents).
func (a *Admin) learnExample(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ConversationID string `json:"conversation_id"`
		Seq            uint64 `json:"seq"`
		Intent         string `json:"intent"`
	}
	if err := httpx.DecodeJSON(w, r, maxBodyBytes, &body); err != nil || !a.teachGate(w, r) {
		return
	}
	q, err := a.message(body.ConversationID, body.Seq, protocol.FromVisitor)
	if err != nil {
		a.fail(w, r, "learn example", err)
		return
	}
	a.intentsMu.Lock()
	defer a.intentsMu.Unlock()
	in, added, err := a.addExamples(r.Context(), body.Intent, []string{q.Text})
	if err != nil {
		a.fail(w, r, "learn example", err)
		return
	}
	a.d.Log.Info("learn: question added as an example", "intent", in.Name, "conversation", body.ConversationID, "added", added, "by", who(r))
	httpx.JSON(w, http.StatusOK, map[string]any{"intent": in.Name, "added": added, "model": a.modelInfo()})
}

// learnIntent is POST /v1/learn/intent {conversation_id, seq, name,
// reply_seq}: a new intent whose one example is the visitor's question
// and whose answer is the person's reply reply_seq of the same
// conversation.
func (a *Admin) learnIntent(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ConversationID string `json:"conversation_id"`
		Seq            uint64 `json:"seq"`
		Name           string `json:"name"`
		ReplySeq       uint64 `json:"reply_seq"`
	}
	if err := httpx.DecodeJSON(w, r, maxBodyBytes, &body); err != nil || !a.teachGate(w, r) {
		return
	}
	q, err := a.message(body.ConversationID, body.Seq, protocol.FromVisitor)
	if err == nil && body.ReplySeq == 0 {
		err = protocolBadField("reply_seq: pick the reply that answers it")
	}
	var ans store.Message
	if err == nil {
		ans, err = a.message(body.ConversationID, body.ReplySeq, protocol.FromAgent)
	}
	if errors.Is(err, store.ErrNotFound) {
		err = protocolBadField("no such question or reply in this conversation")
	}
	if err != nil {
		a.fail(w, r, "learn intent", err)
		return
	}
	in := router.Intent{Name: body.Name, Examples: []string{q.Text}, Answer: ans.Text, Action: router.ActionAnswer}
	a.intentsMu.Lock()
	defer a.intentsMu.Unlock()
	if a.exists(in.Name) {
		a.fail(w, r, "learn intent", errConflict{"an intent named " + strconv.Quote(in.Name) + " already exists: add the question to it instead"})
		return
	}
	if err := a.d.Intents.Put(r.Context(), "", in); err != nil {
		a.fail(w, r, "learn intent", err)
		return
	}
	a.d.Log.Info("learn: new intent from a conversation", "intent", in.Name, "conversation", body.ConversationID, "by", who(r))
	httpx.JSON(w, http.StatusCreated, intentSaved{Intent: in, Model: a.modelInfo()})
}
