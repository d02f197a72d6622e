package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// The email a visitor left (when nobody could answer) is in the watching
// frame, so the agent sees where replies will also reach them.
func TestWatchingShowsTheContactLeft(t *testing.T) {
	r := relay(t, nil)
	v := newVisitor(t, r)
	c, err := r.Store.Conversation(v.conv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Store.UpdateVisitor(context.Background(), c.VisitorID, func(vis *store.Visitor) error {
		vis.Contact = &store.Contact{Email: "ann@example.com", Name: "Ann", At: time.Now()}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	v.send("I want to talk to a person please")
	mei := newAgent(t, r, "mei", "", 3)
	con := mei.console()
	w := con.wait(func(m map[string]any) bool { return m["type"] == "watching" && m["conversation_id"] == v.conv })
	contact, _ := w["contact"].(map[string]any)
	if contact["email"] != "ann@example.com" || contact["name"] != "Ann" {
		t.Fatalf("watching %v", w)
	}
}
