package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
)

// seeded is one conversation made for the sweep test, and whether the
// retention settings make it expire.
type seeded struct {
	visitor, conv, token string
	expired              bool
}

// seed fills dir with n conversations per kind, each with a visitor
// message and an answer, at the given age and status.
func seed(t *testing.T, dir string, kinds []seedKind) []seeded {
	t.Helper()
	var out []seeded
	var mu sync.Mutex
	for _, k := range kinds {
		at := time.Now().Add(-k.age)
		st, err := boltdb.Open(dir, boltdb.Options{Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		// Many writers at once: the group commit shares the fsyncs.
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for w := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < k.n; i += 64 {
					tok := store.NewID()
					v, c, err := st.CreateVisitor(context.Background(), storetest.TokenHash(tok), "")
					if err == nil {
						_, err = st.Append(context.Background(), c.ID, store.NewMessage{From: "visitor", Text: fmt.Sprintf("question %d", i)},
							store.NewMessage{From: "bot", Text: "answer"})
					}
					if err == nil && k.closed {
						_, err = st.UpdateConversation(context.Background(), c.ID, store.Close)
					}
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					out = append(out, seeded{visitor: v.ID, conv: c.ID, token: tok, expired: k.expired})
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

type seedKind struct {
	n       int
	age     time.Duration
	closed  bool
	expired bool
}

const day = 24 * time.Hour

// TestRetentionSweepSurvivesKill runs the real binary's retention sweep
// over more than ten thousand expired conversations, kills it with
// SIGKILL part-way, starts it again, and checks that exactly the expired
// conversations (and their visitors) are gone and every other one is
// whole — and that the file was compacted after all.
func TestRetentionSweepSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("ten thousand conversations: not in -short")
	}
	data := t.TempDir()
	all := seed(t, data, []seedKind{
		{n: 9800, age: 100 * day, closed: true, expired: true}, // closed over 90 days ago
		{n: 300, age: 400 * day, expired: true},                // open, inactive over 365 days
		{n: 200, age: 10 * day, closed: true},                  // closed recently
		{n: 200, age: 100 * day},                               // open, quiet for 100 days
	})
	st, err := boltdb.Open(data, boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := privacy.New(st, privacy.Options{}).SetRetention(context.Background(), privacy.Retention{ClosedDays: 90, InactiveDays: 365}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	expired := 0
	for _, s := range all {
		if s.expired {
			expired++
		}
	}

	// Small passes, so the kill lands between two of them.
	addr := freePort(t)
	p := startKefu(t, addr, data, "--log-level", "info", "--retention-batch", "40")
	deadline := time.Now().Add(2 * time.Minute)
	for strings.Count(p.log(), "retention pass") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no retention pass logged:\n%s", p.log())
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.kill()
	if strings.Contains(p.log(), "retention sweep done") {
		t.Fatal("the sweep finished before the kill; this test needs smaller passes")
	}

	st, err = boltdb.Open(data, boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	left, err := st.Conversations(nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if len(left) == len(all) || len(left) <= len(all)-expired {
		t.Fatalf("after the kill %d of %d conversations are left (%d expired): the kill did not land mid-sweep", len(left), len(all), expired)
	}
	t.Logf("killed mid-sweep with %d of %d expired conversations removed", len(all)-len(left), expired)

	p = startKefu(t, addr, data, "--log-level", "info", "--retention-batch", "500")
	deadline = time.Now().Add(3 * time.Minute)
	for !strings.Contains(p.log(), "retention sweep done") {
		if time.Now().After(deadline) {
			t.Fatalf("the sweep did not finish after the restart:\n%s", p.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := p.term(context.Background()); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.log())
	}

	st, err = boltdb.Open(data, boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, s := range all {
		_, cerr := st.Conversation(s.conv)
		_, verr := st.VisitorByToken(storetest.TokenHash(s.token))
		if s.expired {
			if !errors.Is(cerr, store.ErrNotFound) || !errors.Is(verr, store.ErrNotFound) {
				t.Fatalf("expired conversation %s survived: %v, %v", s.conv, cerr, verr)
			}
			continue
		}
		msgs, err := st.Messages(s.conv, 0, 0)
		if cerr != nil || verr != nil || err != nil || len(msgs) != 2 {
			t.Fatalf("kept conversation %s damaged: %v, %v, %d messages, %v", s.conv, cerr, verr, len(msgs), err)
		}
		kept++
	}
	if left, _ := st.Conversations(nil); len(left) != kept || kept != len(all)-expired {
		t.Fatalf("%d conversations stored, %d kept, want %d", len(left), kept, len(all)-expired)
	}
	status, err := privacy.New(st, privacy.Options{}).SweepStatus()
	if err != nil || status.Unfinished || status.LastError != "" {
		t.Errorf("sweep status after the restart: %+v, %v", status, err)
	}
}
