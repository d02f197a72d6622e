package privacy_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

// counting counts compactions of a real store.
type counting struct {
	*boltdb.Store
	compactions int
	failDelete  error
}

func (c *counting) Compact(ctx context.Context) (store.CompactStats, error) {
	c.compactions++
	return c.Store.Compact(ctx)
}

func (c *counting) DeleteConversations(ctx context.Context, ids []string) (int, error) {
	if c.failDelete != nil {
		return 0, c.failDelete
	}
	return c.Store.DeleteConversations(ctx, ids)
}

func open(t *testing.T) *counting {
	t.Helper()
	st, err := boltdb.Open(t.TempDir(), boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &counting{Store: st}
}

// A sweep cut short after deleting (its status left unfinished) compacts
// on the next run even when nothing is left to delete: the bytes of what
// the first one deleted must still leave the file.
func TestSweepFinishesAnInterruptedCompaction(t *testing.T) {
	st := open(t)
	later := time.Now().AddDate(0, 0, 10)
	svc := privacy.New(st, privacy.Options{Now: func() time.Time { return later }})
	ctx := context.Background()
	if err := svc.SetRetention(ctx, privacy.Retention{ClosedDays: 1}); err != nil {
		t.Fatal(err)
	}
	_, c, err := st.CreateVisitor(ctx, []byte("token-hash-0123456789abcdef0123"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateConversation(ctx, c.ID, store.Close); err != nil {
		t.Fatal(err)
	}

	// The first sweep fails while deleting: the status says unfinished.
	st.failDelete = errors.New("disk on fire")
	status, err := svc.Sweep(ctx, 10, later)
	if err == nil || !status.Unfinished || status.LastError == "" {
		t.Fatalf("failed sweep = %+v, %v; want an error and unfinished", status, err)
	}
	if stored, _ := svc.SweepStatus(); !stored.Unfinished {
		t.Fatalf("stored status %+v is not unfinished", stored)
	}
	// Meanwhile the conversation went some other way (an erasure, another node).
	if _, err := st.Store.DeleteConversations(ctx, []string{c.ID}); err != nil {
		t.Fatal(err)
	}
	st.failDelete = nil
	status, err = svc.Sweep(ctx, 10, later)
	if err != nil || status.Unfinished || status.Conversations != 0 {
		t.Fatalf("second sweep = %+v, %v", status, err)
	}
	if st.compactions != 1 {
		t.Errorf("compactions = %d; the second sweep must compact what the first one left", st.compactions)
	}
	// A third sweep has nothing owed: no compaction.
	if _, err := svc.Sweep(ctx, 10, later); err != nil {
		t.Fatal(err)
	}
	if st.compactions != 1 {
		t.Errorf("compactions = %d after a sweep with nothing to do", st.compactions)
	}
}

// Retention off (the default) deletes nothing, whatever the age.
func TestSweepOffByDefault(t *testing.T) {
	st := open(t)
	svc := privacy.New(st, privacy.Options{Now: func() time.Time { return time.Now().AddDate(100, 0, 0) }})
	ctx := context.Background()
	_, c, err := st.CreateVisitor(ctx, []byte("token-hash-0123456789abcdef0123"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateConversation(ctx, c.ID, store.Close); err != nil {
		t.Fatal(err)
	}
	status, err := svc.Sweep(ctx, 0, time.Now())
	if err != nil || status.Conversations != 0 || st.compactions != 0 {
		t.Fatalf("sweep with retention off = %+v, %v, %d compactions", status, err, st.compactions)
	}
	if _, err := st.Conversation(c.ID); err != nil {
		t.Errorf("a hundred-year-old conversation was deleted with retention off: %v", err)
	}
}
