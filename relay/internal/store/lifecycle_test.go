package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLifecycle(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Minute)
	conv := func(status, handler, agent string) Conversation {
		c := NewConversation("c1", "v1", t0)
		c.Status, c.Handler, c.AgentID, c.LastSeq, c.Preview, c.Intent = status, handler, agent, 4, "before", "hours"
		return c
	}
	msg := func(from, text, intent string) func(*Conversation) error {
		return func(c *Conversation) error {
			ApplyMessage(c, Message{Seq: 5, From: from, Text: text, Intent: intent, Time: t1})
			return nil
		}
	}
	moved := func(c Conversation, f func(*Conversation)) Conversation { f(&c); return c }
	tests := []struct {
		name    string
		from    Conversation
		step    func(*Conversation) error
		want    Conversation
		wantErr error
	}{
		{"hand-off from the bot", conv("open", "bot", ""), HandOff, conv("open", "queue", ""), nil},
		{"hand-off when a person has it", conv("open", "agent", "a1"), HandOff, conv("open", "agent", "a1"), ErrNotBot},
		{"hand-off when queued already", conv("open", "queue", ""), HandOff, conv("open", "queue", ""), ErrNotBot},
		{"hand-off of a closed one", conv("closed", "bot", ""), HandOff, conv("closed", "bot", ""), ErrNotOpen},

		{"routed from the queue", conv("open", "queue", ""), func(c *Conversation) error { return Assign(c, "a1", HandlerQueue) }, conv("open", "agent", "a1"), nil},
		{"routed, but taken meanwhile", conv("open", "agent", "a2"), func(c *Conversation) error { return Assign(c, "a1", HandlerQueue) }, conv("open", "agent", "a2"), ErrAlreadyTaken},
		{"taken from the bot", conv("open", "bot", ""), func(c *Conversation) error { return Assign(c, "a1", "") }, conv("open", "agent", "a1"), nil},
		{"taken from a colleague", conv("open", "agent", "a2"), func(c *Conversation) error { return Assign(c, "a1", "") }, conv("open", "agent", "a1"), nil},
		{"taking a closed one", conv("closed", "agent", "a2"), func(c *Conversation) error { return Assign(c, "a1", "") }, conv("closed", "agent", "a2"), ErrNotOpen},

		{"requeued by its agent", conv("open", "agent", "a1"), Requeue, conv("open", "queue", ""), nil},
		{"requeue of a closed one", conv("closed", "agent", "a1"), Requeue, conv("closed", "agent", "a1"), ErrNotOpen},

		{"closed, keeping who had it", conv("open", "agent", "a1"), Close, conv("closed", "agent", "a1"), nil},
		{"closed twice", conv("closed", "agent", "a1"), Close, conv("closed", "agent", "a1"), ErrNotOpen},

		{"visitor message in an open one", conv("open", "agent", "a1"), msg("visitor", "hello", ""),
			moved(conv("open", "agent", "a1"), func(c *Conversation) { c.LastSeq, c.UpdatedAt, c.Preview = 5, t1, "hello" }), nil},
		{"visitor message reopens for the bot", conv("closed", "agent", "a1"), msg("visitor", "again", ""),
			moved(conv("open", "bot", ""), func(c *Conversation) { c.LastSeq, c.UpdatedAt, c.Preview = 5, t1, "again" }), nil},
		{"agent message leaves a closed one closed", conv("closed", "agent", "a1"), msg("agent", "bye", ""),
			moved(conv("closed", "agent", "a1"), func(c *Conversation) { c.LastSeq, c.UpdatedAt, c.Preview = 5, t1, "bye" }), nil},
		{"a rating leaves a closed one closed, and is no preview", conv("closed", "agent", "a1"), msg("rating", "great help", ""),
			moved(conv("closed", "agent", "a1"), func(c *Conversation) { c.LastSeq, c.UpdatedAt = 5, t1 }), nil},
		{"system lines are not a preview", conv("open", "bot", ""), msg("system", "Connecting you…", ""),
			moved(conv("open", "bot", ""), func(c *Conversation) { c.LastSeq, c.UpdatedAt = 5, t1 }), nil},
		{"a matched intent is kept", conv("open", "bot", ""), msg("bot", "We open at 9.", "hours-2"),
			moved(conv("open", "bot", ""), func(c *Conversation) { c.LastSeq, c.UpdatedAt, c.Preview, c.Intent = 5, t1, "We open at 9.", "hours-2" }), nil},
		{"a long message is clipped", conv("open", "bot", ""), msg("visitor", strings.Repeat("é", 100), ""),
			moved(conv("open", "bot", ""), func(c *Conversation) { c.LastSeq, c.UpdatedAt, c.Preview = 5, t1, strings.Repeat("é", 70)+"…" }), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.from
			err := tc.step(&c)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			if c != tc.want {
				t.Errorf("conversation\n got %+v\nwant %+v", c, tc.want)
			}
		})
	}
}

func TestApplyMessageReportsReopen(t *testing.T) {
	c := NewConversation("c1", "v1", time.Unix(0, 0))
	_ = Close(&c)
	if !ApplyMessage(&c, Message{Seq: 1, From: "visitor", Text: "hi"}) {
		t.Error("a visitor message in a closed conversation did not report a reopen")
	}
	if ApplyMessage(&c, Message{Seq: 2, From: "visitor", Text: "hi"}) {
		t.Error("a visitor message in an open conversation reported a reopen")
	}
}
