package boltdb

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// TestEventsSeeEveryNewMessage reads the event log while messages are
// appended, as the webhook, mail and push readers do. A read whose
// snapshot holds a committed log entry the in-memory index has not taken
// in yet must still find the message: it used to count it as erased and
// skip its event for good (found by the migrate test: one webhook of
// three never sent).
func TestEventsSeeEveryNewMessage(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var convs []string
	for i := range 4 {
		_, c, err := s.CreateVisitor(ctx, []byte(fmt.Sprintf("token-hash-%028d", i)), "")
		if err != nil {
			t.Fatal(err)
		}
		convs = append(convs, c.ID)
	}
	const n = 200
	appended := make(map[string]bool, n)
	var mu sync.Mutex
	done := make(chan error, 1)
	go func() {
		for i := range n {
			conv := convs[i%len(convs)]
			r, err := s.Append(ctx, conv, store.NewMessage{From: "visitor", Text: fmt.Sprint("m", i)})
			if err != nil {
				done <- err
				return
			}
			mu.Lock()
			appended[store.MessageEventID(conv, r.Messages[0].Seq)] = true
			mu.Unlock()
		}
		done <- nil
	}()
	seen := map[string]bool{}
	var pos uint64
	finished := false
	deadline := time.Now().Add(2 * time.Minute)
	for {
		evs, last, err := s.Events(ctx, pos, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Type == store.EventMessageCreated {
				seen[ev.ID] = true
			}
		}
		pos = last
		if finished && len(evs) == 0 {
			break
		}
		if !finished {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				finished = true
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the appends did not finish")
		}
	}
	var missing []string
	for id := range appended {
		if !seen[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d message events skipped by a reader racing the appends, e.g. %v", len(missing), n, missing[:min(5, len(missing))])
	}
}
