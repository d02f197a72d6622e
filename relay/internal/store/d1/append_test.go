//go:build !js

package d1

import (
	"context"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// An append reads nothing back: the conversation it returns is worked out
// from what its one statement returned and the trigger's rules in Go
// (appliedTrigger). On SQLite, it must be what the trigger stored, field
// for field, whatever the message.
func TestAppendReturnsWhatTheTriggerStored(t *testing.T) {
	ctx := context.Background()
	db := openSQLite(t)
	s := New(db, Options{})
	_, c, err := s.CreateVisitor(ctx, []byte("token"), "fp")
	if err != nil {
		t.Fatal(err)
	}
	closeIt := func(c *store.Conversation) error {
		c.Status, c.Handler, c.AgentID = store.StatusClosed, store.HandlerAgent, "a1"
		return nil
	}
	for _, tc := range []struct {
		name   string
		before func(*store.Conversation) error
		msgs   []store.NewMessage
	}{
		{name: "a visitor's question", msgs: []store.NewMessage{{ClientID: "q1", From: "visitor", Text: "hello"}}},
		{name: "question and answer", msgs: []store.NewMessage{{ClientID: "q2", From: "visitor", Text: "when?"}, {ClientID: "q2#answer", From: "bot", Text: "daily", Intent: "shipping"}}},
		{name: "a system line", msgs: []store.NewMessage{{From: "system", Text: "handed over"}}},
		{name: "exactly the preview's length", msgs: []store.NewMessage{{From: "agent", Text: strings.Repeat("é", store.PreviewLen)}}},
		{name: "one character over, multibyte", msgs: []store.NewMessage{{From: "agent", Text: strings.Repeat("日", store.PreviewLen+1)}}},
		{name: "an agent into a closed conversation", before: closeIt, msgs: []store.NewMessage{{From: "agent", Text: "still there?"}}},
		{name: "a visitor reopens", before: closeIt, msgs: []store.NewMessage{{ClientID: "q3", From: "visitor", Text: "me again"}}},
		{name: "a resend only", msgs: []store.NewMessage{{ClientID: "q1", From: "visitor", Text: "hello"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wasClosed := false
			if tc.before != nil {
				got, err := s.UpdateConversation(ctx, c.ID, tc.before)
				if err != nil {
					t.Fatal(err)
				}
				wasClosed = got.Status == store.StatusClosed
			}
			a, err := s.Append(ctx, c.ID, tc.msgs...)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := s.Conversation(c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if a.Conversation != stored {
				t.Errorf("Append returned\n %+v\nthe trigger stored\n %+v", a.Conversation, stored)
			}
			wantReopened := wasClosed && tc.msgs[0].From == "visitor"
			if a.Reopened != wantReopened {
				t.Errorf("Reopened = %v, want %v", a.Reopened, wantReopened)
			}
		})
	}
}
