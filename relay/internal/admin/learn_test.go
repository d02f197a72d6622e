package admin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/protocol"
)

type learnQuestion struct {
	Seq        uint64
	Text       string
	Candidates []struct{ Intent string }
}

type learnView struct {
	Allowed   bool
	Questions []learnQuestion
	Replies   []struct {
		Seq  uint64
		Text string
	}
}

type suggestionsView struct {
	Groups []struct {
		Questions []struct {
			ConversationID string `json:"conversation_id"`
			Seq            uint64
			Text           string
		}
		Candidates []struct{ Intent string }
	}
	Questions int
}

// TestLearnFromMissedQuestions: questions no intent answered are
// suggested to the admin, grouped; an agent may teach the bot only once
// an admin allows it; a question added as an example is answered at once
// and leaves the suggestions; a new intent takes the agent's reply as its
// answer; a dismissed group is gone; bad input gets clear errors.
func TestLearnFromMissedQuestions(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	mei := newAccount(t, r, "mei", "agent")

	canada1 := newVisitor(t, r)
	canada1.send(t, "do you have the sofa in blue")
	canada2 := newVisitor(t, r)
	canada2.send(t, "is the sofa available in blue?")
	wrap := newVisitor(t, r)
	wrap.send(t, "can you gift wrap my order")
	var sv suggestionsView
	waitFor(t, "three missed questions", func() bool {
		admin.must(200, "GET", "/v1/admin/intents/suggestions", nil).decode(&sv)
		return sv.Questions == 3
	})
	if len(sv.Groups) != 2 || len(sv.Groups[0].Questions) != 2 || !strings.Contains(sv.Groups[0].Questions[0].Text, "blue") {
		t.Fatalf("suggestions = %+v; want the two sofa questions together, then gift wrap", sv)
	}

	// Agents may not teach until an admin allows it.
	var lv learnView
	mei.must(200, "GET", "/v1/learn/conversations/"+canada1.conv, nil).decode(&lv)
	if lv.Allowed || len(lv.Questions) != 0 {
		t.Fatalf("before it is allowed, the agent sees %+v", lv)
	}
	if res := mei.do("POST", "/v1/learn/example", map[string]any{"conversation_id": canada1.conv, "seq": 1, "intent": "shipping"}); res.status != 403 || res.code() != string(protocol.CodeForbidden) {
		t.Fatalf("agent teaching unallowed: %d %s", res.status, res.body)
	}
	if res := mei.do("PUT", "/v1/admin/learn", map[string]bool{"agents": true}); res.status != 403 {
		t.Fatalf("an agent changed who may teach: %d", res.status)
	}
	admin.must(200, "PUT", "/v1/admin/learn", map[string]bool{"agents": true})
	if res := admin.do("PUT", "/v1/admin/learn", map[string]any{}); res.status != 400 || res.code() != string(protocol.CodeBadField) {
		t.Errorf("PUT learn without agents: %d %s", res.status, res.body)
	}

	mei.must(200, "GET", "/v1/learn/conversations/"+canada1.conv, nil).decode(&lv)
	if !lv.Allowed || len(lv.Questions) != 1 || lv.Questions[0].Text != "do you have the sofa in blue" {
		t.Fatalf("the agent sees %+v", lv)
	}
	q := lv.Questions[0]
	for _, tt := range []struct {
		name string
		body map[string]any
		code int
	}{
		{"no such intent", map[string]any{"conversation_id": canada1.conv, "seq": q.Seq, "intent": "nope"}, 404},
		{"no such message", map[string]any{"conversation_id": canada1.conv, "seq": 99, "intent": "shipping"}, 404},
		{"no seq", map[string]any{"conversation_id": canada1.conv, "intent": "shipping"}, 400},
		{"a bot message", map[string]any{"conversation_id": canada1.conv, "seq": q.Seq + 1, "intent": "shipping"}, 400},
	} {
		if res := mei.do("POST", "/v1/learn/example", tt.body); res.status != tt.code {
			t.Errorf("%s: %d %s, want %d", tt.name, res.status, res.body, tt.code)
		}
	}
	var added struct {
		Added int
		Model struct{ Hash string }
	}
	mei.must(200, "POST", "/v1/learn/example", map[string]any{"conversation_id": canada1.conv, "seq": q.Seq, "intent": "shipping"}).decode(&added)
	if added.Added != 1 || added.Model.Hash == "" {
		t.Fatalf("add example = %+v", added)
	}
	// Again: nothing new, nothing refitted.
	mei.must(200, "POST", "/v1/learn/example", map[string]any{"conversation_id": canada1.conv, "seq": q.Seq, "intent": "shipping"}).decode(&added)
	if added.Added != 0 {
		t.Errorf("the same question added twice: %+v", added)
	}
	// A new visitor asking it gets the instant answer from the relay.
	v := newVisitor(t, r)
	v.send(t, "do you have the sofa in blue")
	waitFor(t, "the shipping answer", func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		for _, m := range v.msgs {
			if m.From == "bot" && m.Intent == "shipping" {
				return true
			}
		}
		return false
	})
	admin.must(200, "GET", "/v1/admin/intents/suggestions", nil).decode(&sv)
	for _, g := range sv.Groups {
		for _, x := range g.Questions {
			if x.Text == "do you have the sofa in blue" {
				t.Errorf("a question the intents answer now is still suggested: %q", x.Text)
			}
		}
	}

	// A new intent from the agent's reply.
	con := mei.agentSocket()
	frame := fmt.Sprintf(`{"type":"message","conversation_id":%q,"id":"r1","text":"Yes: gift wrap is 3 euros at checkout."}`, wrap.conv)
	if err := con.conn.Write(context.Background(), websocket.MessageText, []byte(frame)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the agent's reply stored", func() bool {
		mei.must(200, "GET", "/v1/learn/conversations/"+wrap.conv, nil).decode(&lv)
		return len(lv.Replies) == 1
	})
	if len(lv.Questions) != 1 {
		t.Fatalf("gift wrap conversation: %+v", lv)
	}
	wq, rep := lv.Questions[0], lv.Replies[0]
	if res := mei.do("POST", "/v1/learn/intent", map[string]any{"conversation_id": wrap.conv, "seq": wq.Seq, "name": "gift_wrap", "reply_seq": wq.Seq}); res.status != 400 {
		t.Errorf("the question as its own answer: %d %s", res.status, res.body)
	}
	if res := mei.do("POST", "/v1/learn/intent", map[string]any{"conversation_id": wrap.conv, "seq": wq.Seq, "name": "shipping", "reply_seq": rep.Seq}); res.status != 409 {
		t.Errorf("a taken name: %d %s", res.status, res.body)
	}
	if res := mei.do("POST", "/v1/learn/intent", map[string]any{"conversation_id": wrap.conv, "seq": wq.Seq, "name": " ", "reply_seq": rep.Seq}); res.status != 400 {
		t.Errorf("a blank name: %d %s", res.status, res.body)
	}
	var created struct {
		Intent struct {
			Name, Answer string
			Examples     []string
		}
	}
	mei.must(201, "POST", "/v1/learn/intent", map[string]any{"conversation_id": wrap.conv, "seq": wq.Seq, "name": "gift_wrap", "reply_seq": rep.Seq}).decode(&created)
	if created.Intent.Answer != rep.Text || len(created.Intent.Examples) != 1 || created.Intent.Examples[0] != "can you gift wrap my order" {
		t.Errorf("new intent = %+v", created.Intent)
	}

	// The admin adds examples to an intent and dismisses a group.
	canada2.send(t, "can i pay with bitcoin")
	other := newVisitor(t, r)
	other.send(t, "what is the meaning of life")
	waitFor(t, "the new questions", func() bool {
		admin.must(200, "GET", "/v1/admin/intents/suggestions", nil).decode(&sv)
		return sv.Questions >= 2
	})
	if res := admin.do("POST", "/v1/admin/intents/gift_wrap/examples", map[string]any{"examples": []string{}}); res.status != 400 {
		t.Errorf("no examples: %d", res.status)
	}
	if res := admin.do("POST", "/v1/admin/intents/nope/examples", map[string]any{"examples": []string{"x"}}); res.status != 404 {
		t.Errorf("examples for no intent: %d", res.status)
	}
	admin.must(200, "POST", "/v1/admin/intents/gift_wrap/examples", map[string]any{"examples": []string{"do you wrap presents", "  can you GIFT wrap   my order "}}).decode(&added)
	if added.Added != 1 {
		t.Errorf("examples added = %d, want 1 (the other is there already)", added.Added)
	}
	var refs []map[string]any
	for _, g := range sv.Groups {
		for _, x := range g.Questions {
			if strings.Contains(x.Text, "meaning of life") {
				refs = append(refs, map[string]any{"conversation_id": x.ConversationID, "seq": x.Seq})
			}
		}
	}
	if len(refs) != 1 {
		t.Fatalf("the meaning-of-life question is not suggested: %+v", sv)
	}
	if res := admin.do("POST", "/v1/admin/intents/suggestions/dismiss", map[string]any{"questions": []any{}}); res.status != 400 {
		t.Errorf("dismiss nothing: %d", res.status)
	}
	admin.must(204, "POST", "/v1/admin/intents/suggestions/dismiss", map[string]any{"questions": refs})
	admin.must(200, "GET", "/v1/admin/intents/suggestions", nil).decode(&sv)
	for _, g := range sv.Groups {
		for _, x := range g.Questions {
			if strings.Contains(x.Text, "meaning of life") {
				t.Errorf("a dismissed question is still suggested")
			}
		}
	}
}
