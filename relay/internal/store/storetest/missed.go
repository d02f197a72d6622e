package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// testMissed checks what the admin page's suggestions and the console's
// "teach the bot" read (issue 14): the visitor questions no intent
// answered, newest first, from the stored messages — and that erasing a
// visitor removes theirs.
func testMissed[S EraseStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	start := time.Now().Add(-time.Minute)
	// ann: one question answered in the browser, one by the relay's
	// intent, one by the AI, then one a person answered after a hand-off.
	ann, annConv := NewVisitor(t, s)
	appendAll(t, s, annConv.ID,
		[]store.NewMessage{{ClientID: "a1", From: "visitor", Text: "opening hours?", Intent: "hours", Via: "browser"},
			{ClientID: "a1#answer", From: "bot", Author: "FAQ", Text: "9 to 5", Intent: "hours", Via: "browser"}},
		[]store.NewMessage{{ClientID: "a2", From: "visitor", Text: "shipping cost"}},
		[]store.NewMessage{{ClientID: "a2#answer", From: "bot", Author: "FAQ", Text: "5 euros", Intent: "shipping", Via: "relay"}},
		[]store.NewMessage{{ClientID: "a3", From: "visitor", Text: "do you sell gift wrap quokka-7"}},
		[]store.NewMessage{{From: "bot", Author: "AI", Text: "I think so", Via: "ai"}},
		[]store.NewMessage{{ClientID: "a4", From: "visitor", Text: "can i change my address"}},
		[]store.NewMessage{{From: "system", Text: "Connecting you with a person."}},
		[]store.NewMessage{{From: "agent", AuthorID: "ag1", Author: "Mei", Text: "Yes, in your account."}},
	)
	// bob: one question, still waiting; an empty text is never a question.
	_, bobConv := NewVisitor(t, s)
	appendAll(t, s, bobConv.ID,
		[]store.NewMessage{{ClientID: "b1", From: "visitor", Text: " "}},
		[]store.NewMessage{{ClientID: "b2", From: "visitor", Text: "is the sofa in stock"}})

	texts := func(ms []store.Message) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Text)
		}
		return out
	}
	got, n, err := store.RecentMissed(s, start, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"is the sofa in stock", "can i change my address", "do you sell gift wrap quokka-7"}
	if n != 2 || !slices.Equal(texts(got), want) {
		t.Fatalf("RecentMissed = %q from %d conversations, want %q from 2", texts(got), n, want)
	}
	if got[0].ConversationID != bobConv.ID || got[0].Seq == 0 {
		t.Errorf("newest missed question names %s/%d, want bob's conversation", got[0].ConversationID, got[0].Seq)
	}
	// Bounded: one conversation, the most recently active.
	if got, n, err := store.RecentMissed(s, start, 1); err != nil || n != 1 || !slices.Equal(texts(got), want[:1]) {
		t.Errorf("RecentMissed of 1 conversation = %q, %d, %v", texts(got), n, err)
	}
	// Nothing before since.
	if got, _, err := store.RecentMissed(s, time.Now().Add(time.Hour), 10); err != nil || len(got) != 0 {
		t.Errorf("RecentMissed from the future = %q, %v", texts(got), err)
	}

	// Erasing ann removes her questions, and only hers.
	if _, err := privacy.New(s, privacy.Options{}).Erase(bg, []string{ann.ID}, "admin"); err != nil {
		t.Fatal(err)
	}
	got, n, err = store.RecentMissed(s, start, 10)
	if err != nil || n != 1 || !slices.Equal(texts(got), want[:1]) {
		t.Errorf("after erasing ann: %q from %d conversations, %v; want only bob's", texts(got), n, err)
	}
}

func appendAll(t *testing.T, s ChatStore, convID string, batches ...[]store.NewMessage) {
	t.Helper()
	for _, b := range batches {
		if _, err := s.Append(bg, convID, b...); err != nil {
			t.Fatalf("append %+v: %v", b, err)
		}
	}
}
