//go:build !js

package d1

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// MessagesPage is Messages and the conversation's LastSeq, in one
// statement: the same answers for every page, an empty conversation, a
// page past the end, and a conversation that does not exist.
func TestMessagesPage(t *testing.T) {
	ctx := context.Background()
	s := New(openSQLite(t), Options{})
	_, c, err := s.CreateVisitor(ctx, []byte("token"), "fp")
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, after uint64, limit int) {
		t.Helper()
		got, last, err := s.MessagesPage(c.ID, after, limit)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		want, err := s.Messages(c.ID, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		conv, err := s.Conversation(c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) || last != conv.LastSeq {
			t.Errorf("%s: %d messages, last %d; want %d, %d\n got %+v\nwant %+v", what, len(got), last, len(want), conv.LastSeq, got, want)
		}
	}
	check("empty", 0, 10)
	for i := range 5 {
		nm := store.NewMessage{From: "visitor", Text: fmt.Sprint("q", i)}
		if i%2 == 1 {
			nm = store.NewMessage{ClientID: fmt.Sprint("a", i), From: "bot", Author: "FAQ", Text: "an answer", Intent: "hours", Via: "relay", Incomplete: i == 3, StreamID: "s1"}
		}
		if _, err := s.Append(ctx, c.ID, nm); err != nil {
			t.Fatal(err)
		}
	}
	check("all", 0, 0)
	check("a page", 1, 2)
	check("the rest", 3, 10)
	check("past the end", 5, 10)
	check("far past the end", 99, 10)
	if _, _, err := s.MessagesPage("nope", 0, 10); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("no such conversation: %v, want ErrNotFound", err)
	}
}
