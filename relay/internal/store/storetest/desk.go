package storetest

import (
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

func testAccounts[S DeskStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	ann := store.Account{ID: store.NewID(), Username: "Ann", Name: "Ann A.", Role: store.RoleAgent, PasswordHash: "h1", Skills: "billing", Capacity: 3, CreatedAt: now}
	bob := store.Account{ID: store.NewID(), Username: "bob", Name: "Bob", Role: store.RoleAdmin, PasswordHash: "h2", CreatedAt: now}
	for _, a := range []store.Account{bob, ann} {
		if err := s.CreateAccount(bg, a); err != nil {
			t.Fatalf("CreateAccount %s: %v", a.Username, err)
		}
	}
	taken := store.Account{ID: store.NewID(), Username: " ANN ", Role: store.RoleAgent}
	if err := s.CreateAccount(bg, taken); !errors.Is(err, store.ErrExists) {
		t.Errorf("CreateAccount with a taken username (other case, spaces): error = %v, want ErrExists", err)
	}
	if _, err := s.Account(taken.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused account was stored: %v", err)
	}
	got, err := s.Account(ann.ID)
	if err != nil || !sameAccount(got, ann) {
		t.Errorf("Account = %+v, %v; want %+v", got, err, ann)
	}
	if got, err := s.AccountByUsername("aNN"); err != nil || got.ID != ann.ID {
		t.Errorf("AccountByUsername(aNN) = %+v, %v", got, err)
	}
	if _, err := s.AccountByUsername("carol"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AccountByUsername(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.Account("nosuchaccount00"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Account(unknown) error = %v, want ErrNotFound", err)
	}
	list, err := s.Accounts()
	if err != nil || len(list) != 2 || list[0].ID != ann.ID || list[1].ID != bob.ID {
		t.Errorf("Accounts = %+v, %v; want Ann then bob", list, err)
	}

	upd, err := s.UpdateAccount(bg, ann.ID, func(a *store.Account) error { a.Capacity, a.Disabled = 5, true; return nil })
	if err != nil || upd.Capacity != 5 || !upd.Disabled {
		t.Fatalf("UpdateAccount = %+v, %v", upd, err)
	}
	if got, _ := s.Account(ann.ID); got.Capacity != 5 || !got.Disabled || got.PasswordHash != "h1" {
		t.Errorf("after the update: %+v", got)
	}
	if _, err := s.UpdateAccount(bg, ann.ID, func(a *store.Account) error { a.Username = "anna"; return nil }); err == nil {
		t.Error("a username change was accepted")
	}
	if got, _ := s.AccountByUsername("ann"); got.ID != ann.ID {
		t.Error("the refused username change moved the account")
	}
	errStop := errors.New("stop")
	if _, err := s.UpdateAccount(bg, ann.ID, func(a *store.Account) error { a.Capacity = 9; return errStop }); !errors.Is(err, errStop) {
		t.Errorf("UpdateAccount whose fn fails: error = %v", err)
	}
	if got, _ := s.Account(ann.ID); got.Capacity != 5 {
		t.Errorf("a failed update changed the account: %+v", got)
	}
	if _, err := s.UpdateAccount(bg, "nosuchaccount00", func(*store.Account) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateAccount(unknown) error = %v, want ErrNotFound", err)
	}

	// Deleting: the account, its username (free again) and its sessions go.
	if err := s.PutSession(bg, TokenHash("ann-session"), store.Session{AccountID: ann.ID, CSRF: "x", CreatedAt: now, LastSeen: now}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.DeleteAccount(bg, ann.ID); err != nil || !ok {
		t.Fatalf("DeleteAccount = %v, %v", ok, err)
	}
	if _, err := s.Account(ann.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted account still read: %v", err)
	}
	if _, err := s.AccountByUsername("ann"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted account's username still finds it: %v", err)
	}
	if _, err := s.Session(TokenHash("ann-session")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted account's session survives: %v", err)
	}
	if ok, err := s.DeleteAccount(bg, ann.ID); err != nil || ok {
		t.Errorf("deleting again = %v, %v; want false, nil", ok, err)
	}
	again := store.Account{ID: store.NewID(), Username: "ann", Role: store.RoleAgent, PasswordHash: "h3", CreatedAt: now}
	if err := s.CreateAccount(bg, again); err != nil {
		t.Errorf("the freed username cannot be taken again: %v", err)
	}
	if list, err := s.Accounts(); err != nil || len(list) != 2 {
		t.Errorf("Accounts after delete and re-create = %d, %v; want 2", len(list), err)
	}
}

func sameAccount(a, b store.Account) bool {
	ta, tb := a.CreatedAt, b.CreatedAt
	a.CreatedAt, b.CreatedAt = time.Time{}, time.Time{}
	return a == b && ta.Equal(tb)
}

func testSessions[S DeskStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	hash := func(i int) []byte { return TokenHash(fmt.Sprint("session-", i)) }
	put := func(i int, acct string, seen time.Time) {
		t.Helper()
		if err := s.PutSession(bg, hash(i), store.Session{AccountID: acct, CSRF: fmt.Sprint("csrf", i), CreatedAt: t0, LastSeen: seen}); err != nil {
			t.Fatal(err)
		}
	}
	put(1, "a1", t0)
	put(2, "a1", t0)
	put(3, "a1", t0.Add(time.Hour))
	put(4, "a2", t0)
	got, err := s.Session(hash(1))
	if err != nil || got.AccountID != "a1" || got.CSRF != "csrf1" || !got.LastSeen.Equal(t0) {
		t.Errorf("Session = %+v, %v", got, err)
	}
	put(1, "a1", t0.Add(time.Minute)) // touched
	if got, _ := s.Session(hash(1)); !got.LastSeen.Equal(t0.Add(time.Minute)) {
		t.Errorf("a put session was not replaced: %+v", got)
	}
	if _, err := s.Session(hash(99)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session(unknown) error = %v, want ErrNotFound", err)
	}

	gone, err := s.DeleteSessions(bg, hash(4), "", nil)
	if err != nil || len(gone) != 1 || string(gone[0]) != string(hash(4)) {
		t.Errorf("DeleteSessions(one) = %d hashes, %v", len(gone), err)
	}
	if gone, err := s.DeleteSessions(bg, hash(4), "", nil); err != nil || len(gone) != 0 {
		t.Errorf("deleting it again = %d hashes, %v; want none", len(gone), err)
	}
	// Sign out everywhere else: every session of a1 but the one kept.
	gone, err = s.DeleteSessions(bg, nil, "a1", hash(3))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(gone))
	for i, h := range gone {
		names[i] = string(h)
	}
	sort.Strings(names)
	want := []string{string(hash(1)), string(hash(2))}
	sort.Strings(want)
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("DeleteSessions(a1 but 3) removed %d sessions, want 1 and 2", len(gone))
	}
	if _, err := s.Session(hash(3)); err != nil {
		t.Errorf("the kept session is gone: %v", err)
	}
	put(5, "a2", t0)
	n, err := s.PurgeSessions(bg, func(sess store.Session) bool { return sess.LastSeen.Before(t0.Add(30 * time.Minute)) })
	if err != nil || n != 1 {
		t.Errorf("PurgeSessions = %d, %v; want 1", n, err)
	}
	if _, err := s.Session(hash(5)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a purged session is still there: %v", err)
	}
	if _, err := s.Session(hash(3)); err != nil {
		t.Errorf("a live session was purged: %v", err)
	}
}

func testConversations[S DeskStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	var ids []string
	for range 3 {
		_, c := NewVisitor(t, s)
		ids = append(ids, c.ID)
	}
	// Activity makes the first one the newest.
	if _, err := s.Append(bg, ids[0], store.NewMessage{From: "visitor", Text: "latest"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateConversation(bg, ids[1], store.Close); err != nil {
		t.Fatal(err)
	}
	all, err := s.Conversations(nil)
	if err != nil || len(all) != 3 {
		t.Fatalf("Conversations(nil) = %d, %v; want 3", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].UpdatedAt.After(all[i-1].UpdatedAt) {
			t.Errorf("not newest first: %v then %v", all[i-1].UpdatedAt, all[i].UpdatedAt)
		}
	}
	open, err := s.Conversations(func(c *store.Conversation) bool { return c.Status == store.StatusOpen })
	if err != nil || len(open) != 2 {
		t.Fatalf("open conversations = %d, %v; want 2", len(open), err)
	}
	for _, c := range open {
		if c.ID == ids[1] {
			t.Error("the closed conversation is listed as open")
		}
		if c.ID == ids[0] && (c.LastSeq != 1 || c.Preview != "latest") {
			t.Errorf("listed conversation lacks its append: %+v", c)
		}
	}
}
