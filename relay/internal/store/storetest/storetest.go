// Package storetest is the storage conformance suite: the behaviour every
// backend (boltdb, D1, JetStream) owes the relay, checked the same way
// against each. A backend's test calls Chat, and Desk when it keeps
// accounts; the suite never knows which backend it runs on.
//
// Chat is what the visitor path needs (the edge has only this); Desk is
// what agents and admins add (accounts, sessions, conversation lists).
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// ChatStore is the part of a store every backend has.
type ChatStore interface {
	store.Settings
	CreateVisitor(ctx context.Context, tokenHash []byte, fingerprint string, fill ...store.Fill) (store.Visitor, store.Conversation, error)
	VisitorByToken(tokenHash []byte) (store.Visitor, error)
	Visitor(id string) (store.Visitor, error)
	UpdateVisitor(ctx context.Context, id string, fn func(*store.Visitor) error) (store.Visitor, error)
	Conversation(id string) (store.Conversation, error)
	UpdateConversation(ctx context.Context, id string, fn func(*store.Conversation) error) (store.Conversation, error)
	Append(ctx context.Context, convID string, msgs ...store.NewMessage) (store.Appended, error)
	Messages(convID string, after uint64, limit int) ([]store.Message, error)
}

// DeskStore is a store that also keeps accounts, sessions and lists of
// conversations (the relay's backends; not the edge's).
type DeskStore interface {
	ChatStore
	CreateAccount(ctx context.Context, a store.Account) error
	Account(id string) (store.Account, error)
	AccountByUsername(username string) (store.Account, error)
	Accounts() ([]store.Account, error)
	UpdateAccount(ctx context.Context, id string, fn func(*store.Account) error) (store.Account, error)
	DeleteAccount(ctx context.Context, id string) (bool, error)
	PutSession(ctx context.Context, hash []byte, sess store.Session) error
	Session(hash []byte) (store.Session, error)
	DeleteSessions(ctx context.Context, hash []byte, accountID string, keep []byte) ([][]byte, error)
	PurgeSessions(ctx context.Context, expired func(store.Session) bool) (int, error)
	Conversations(keep func(*store.Conversation) bool) ([]store.Conversation, error)
}

// Backend opens stores of one kind for the suite.
type Backend[S ChatStore] struct {
	// Open returns a store over fresh, empty storage that calls onAppend
	// (which may be nil) as its OnAppend hook. The backend closes it when
	// the test ends.
	Open func(t *testing.T, onAppend func(store.Appended)) S
	// Peer returns another store over the same storage as s, as another
	// node of a cluster would have. Nil: the backend has one store per
	// storage, and concurrency is tested on s alone.
	Peer func(t *testing.T, s S) S
	// Close closes s when the backend can close (then writes must fail
	// with store.ErrClosed). Nil skips that test.
	Close func(s S) error

	// slots is set by Together: a check takes one for as long as it runs.
	slots chan struct{}
}

var bg = context.Background()

// Together runs groups (Desk, Privacy, ...) on b at the same time, and up
// to width of their checks at once, each a subtest on stores of its own
// (so b.Open and b.Peer are called from several goroutines). It is for a
// backend whose calls mostly wait: on a three-server JetStream cluster
// every store a check opens makes 19 streams, each agreed by the servers
// and synced to their disks, and a check at a time left the box idle.
// The checks and their names are those of the groups run one by one.
func Together[S ChatStore](t *testing.T, b Backend[S], width int, groups ...func(*testing.T, Backend[S])) {
	b.slots = make(chan struct{}, max(width, 1))
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Go(func() { g(t, b) })
	}
	wg.Wait()
}

// group runs a group's checks as subtests of t: one after the other, or,
// under Together, each in a goroutine of its own once a slot is free.
type group struct {
	t     *testing.T
	slots chan struct{}
	wg    sync.WaitGroup
}

func (b Backend[S]) group(t *testing.T) *group { return &group{t: t, slots: b.slots} }

func (g *group) run(name string, check func(*testing.T)) {
	if g.slots == nil {
		g.t.Run(name, check)
		return
	}
	g.slots <- struct{}{}
	g.wg.Go(func() {
		defer func() { <-g.slots }()
		g.t.Run(name, check)
	})
}

// wait returns once every check the group started has ended (t.Run may be
// called from several goroutines, but must return before its test does).
func (g *group) wait() { g.wg.Wait() }

// Chat runs the checks every backend must pass.
func Chat[S ChatStore](t *testing.T, b Backend[S]) {
	g := b.group(t)
	defer g.wait()
	g.run("Visitors", func(t *testing.T) { testVisitors(t, b) })
	g.run("AppendSeqs", func(t *testing.T) { testAppendSeqs(t, b) })
	g.run("IdempotentClientIDs", func(t *testing.T) { testIdempotent(t, b) })
	g.run("AppendUnknownConversation", func(t *testing.T) { testAppendUnknown(t, b) })
	g.run("ResumeReads", func(t *testing.T) { testResume(t, b) })
	g.run("OnAppend", func(t *testing.T) { testOnAppend(t, b) })
	g.run("Lifecycle", func(t *testing.T) { testLifecycle(t, b) })
	g.run("UpdateConversation", func(t *testing.T) { testUpdateConversation(t, b) })
	g.run("ConcurrentAppends", func(t *testing.T) { testConcurrent(t, b) })
	g.run("Settings", func(t *testing.T) { testSettings(t, b) })
	if b.Close != nil {
		g.run("Closed", func(t *testing.T) { testClosed(t, b) })
	}
}

// Desk runs Chat and the checks of accounts, sessions and lists.
func Desk[S DeskStore](t *testing.T, b Backend[S]) {
	g := b.group(t)
	defer g.wait()
	Chat(t, b)
	g.run("Accounts", func(t *testing.T) { testAccounts(t, b) })
	g.run("Sessions", func(t *testing.T) { testSessions(t, b) })
	g.run("Conversations", func(t *testing.T) { testConversations(t, b) })
}

// NewVisitor creates a visitor with a random token in s.
func NewVisitor(t testing.TB, s ChatStore) (store.Visitor, store.Conversation) {
	t.Helper()
	v, c, err := s.CreateVisitor(bg, TokenHash(store.NewID()), "fp")
	if err != nil {
		t.Fatalf("CreateVisitor: %v", err)
	}
	return v, c
}

// TokenHash is the hash a token is stored under.
func TokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// peer is b.Peer(s), or s itself.
func peer[S ChatStore](t *testing.T, b Backend[S], s S) S {
	if b.Peer == nil {
		return s
	}
	return b.Peer(t, s)
}

func seqsOf(msgs []store.Message) []uint64 {
	out := make([]uint64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

// checkContiguous fails unless msgs are seqs 1..n of conv in order, each
// client id at most once.
func checkContiguous(t *testing.T, msgs []store.Message) {
	t.Helper()
	seen := map[string]uint64{}
	for i, m := range msgs {
		if m.Seq != uint64(i+1) {
			t.Fatalf("message %d has seq %d: seqs are not contiguous from 1 (first ones %v)", i, m.Seq, seqsOf(msgs[:min(len(msgs), i+3)]))
		}
		if m.ClientID == "" {
			continue
		}
		if prev, ok := seen[m.ClientID]; ok {
			t.Fatalf("client id %q stored twice, as %d and %d", m.ClientID, prev, m.Seq)
		}
		seen[m.ClientID] = m.Seq
	}
}

// sameMessage compares what Append returned with what a read found.
func sameMessage(a, b store.Message) bool {
	if (a.Page == nil) != (b.Page == nil) || a.Page != nil && *a.Page != *b.Page {
		return false
	}
	a.Page, b.Page = nil, nil
	ta, tb := a.Time, b.Time
	a.Time, b.Time = ta.UTC(), tb.UTC()
	return a == b && ta.Equal(tb)
}

func testVisitors[S ChatStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	v, c, err := s.CreateVisitor(bg, TokenHash("tok-1"), "fp-1")
	if err != nil {
		t.Fatalf("CreateVisitor: %v", err)
	}
	if v.ID == "" || v.ConversationID != c.ID || c.VisitorID != v.ID || v.Fingerprint != "fp-1" {
		t.Fatalf("CreateVisitor = %+v, %+v", v, c)
	}
	if c.Status != store.StatusOpen || c.Handler != store.HandlerBot || c.LastSeq != 0 {
		t.Errorf("a new conversation is %s/%s at seq %d, want open/bot at 0", c.Status, c.Handler, c.LastSeq)
	}
	got, err := s.VisitorByToken(TokenHash("tok-1"))
	if err != nil || got.ID != v.ID || got.ConversationID != c.ID {
		t.Errorf("VisitorByToken = %+v, %v; want %s", got, err, v.ID)
	}
	if _, err := s.VisitorByToken(TokenHash("no-such-token")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("VisitorByToken(unknown) error = %v, want ErrNotFound", err)
	}
	// A token made with its time is stored under that time and its hash
	// (40 bytes, visitor.TokenHash); the two kinds live side by side.
	timed := append([]byte(store.TimeKey(time.Now())), TokenHash("tok-timed")...)
	tv, _, err := s.CreateVisitor(bg, timed, "")
	if err != nil {
		t.Fatalf("CreateVisitor with a time-keyed token: %v", err)
	}
	if got, err := s.VisitorByToken(timed); err != nil || got.ID != tv.ID {
		t.Errorf("VisitorByToken(time-keyed) = %+v, %v; want %s", got, err, tv.ID)
	}
	if got, err := s.VisitorByToken(TokenHash("tok-1")); err != nil || got.ID != v.ID {
		t.Errorf("VisitorByToken(tok-1) after a time-keyed one = %+v, %v; want %s", got, err, v.ID)
	}
	if _, err := s.Visitor("nosuchvisitor00"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Visitor(unknown) error = %v, want ErrNotFound", err)
	}
	if got, err := s.Conversation(c.ID); err != nil || got.VisitorID != v.ID || got.Status != store.StatusOpen {
		t.Errorf("Conversation = %+v, %v", got, err)
	}
	if _, err := s.Conversation("nosuchconversat"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Conversation(unknown) error = %v, want ErrNotFound", err)
	}

	upd, err := s.UpdateVisitor(bg, v.ID, func(v *store.Visitor) error {
		v.Fingerprint = "fp-2"
		v.Traits = map[string]string{"name": "Ann", "plan": "pro"}
		v.Lang = "pt"
		return nil
	})
	if err != nil || upd.Traits["name"] != "Ann" || upd.Lang != "pt" {
		t.Fatalf("UpdateVisitor = %+v, %v", upd, err)
	}
	got, err = s.Visitor(v.ID)
	if err != nil || got.Fingerprint != "fp-2" || got.Traits["plan"] != "pro" || len(got.Traits) != 2 || got.Lang != "pt" {
		t.Errorf("Visitor after update = %+v, %v", got, err)
	}
	errStop := errors.New("stop")
	if _, err := s.UpdateVisitor(bg, v.ID, func(v *store.Visitor) error { v.Fingerprint = "lost"; return errStop }); !errors.Is(err, errStop) {
		t.Errorf("UpdateVisitor whose fn fails: error = %v, want the fn's", err)
	}
	if got, _ := s.Visitor(v.ID); got.Fingerprint != "fp-2" {
		t.Errorf("a failed update changed the visitor: %+v", got)
	}
	if _, err := s.UpdateVisitor(bg, "nosuchvisitor00", func(*store.Visitor) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateVisitor(unknown) error = %v, want ErrNotFound", err)
	}
	if _, _, err := s.CreateVisitor(bg, TokenHash("tok-1"), ""); err == nil {
		t.Error("a second visitor with the same token hash was created")
	}
	if got, err := s.VisitorByToken(TokenHash("tok-1")); err != nil || got.ID != v.ID {
		t.Errorf("after a refused duplicate, the token finds %+v, %v; want the first visitor", got, err)
	}

	// A visitor created with its language stores it with the rest; a
	// fill cannot choose the ids or the creation time.
	f, fc, err := s.CreateVisitor(bg, TokenHash("tok-2"), "fp-3", func(v *store.Visitor) {
		v.Lang, v.ID, v.ConversationID = "de", "chosen", "chosen"
	})
	if err != nil || f.Lang != "de" || f.ID == "chosen" || f.ConversationID != fc.ID || fc.ID == "chosen" || f.Fingerprint != "fp-3" {
		t.Fatalf("CreateVisitor with a fill = %+v, %+v, %v", f, fc, err)
	}
	if got, err := s.VisitorByToken(TokenHash("tok-2")); err != nil || got.ID != f.ID || got.Lang != "de" || got.Fingerprint != "fp-3" {
		t.Errorf("a filled visitor reads back as %+v, %v", got, err)
	}
}

func testAppendSeqs[S ChatStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	var sent []store.Message
	for i := range 5 {
		a, err := s.Append(bg, c.ID, store.NewMessage{ClientID: fmt.Sprint("m", i), From: "visitor", Text: fmt.Sprint("hello ", i)})
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		if len(a.Messages) != 1 || a.Messages[0].Seq != uint64(i+1) || a.Duplicate[0] || a.Conversation.LastSeq != uint64(i+1) {
			t.Fatalf("Append %d = %+v", i, a)
		}
		sent = append(sent, a.Messages[0])
	}
	// A question and the browser's answer to it: one call, two seqs.
	a, err := s.Append(bg, c.ID,
		store.NewMessage{ClientID: "q", From: "visitor", Text: "opening hours?"},
		store.NewMessage{ClientID: "q#answer", From: "bot", Author: "FAQ", Text: "9 to 5", Intent: "hours", Via: "widget"},
	)
	if err != nil {
		t.Fatalf("Append of two: %v", err)
	}
	if got := seqsOf(a.Messages); len(got) != 2 || got[0] != 6 || got[1] != 7 || a.Conversation.LastSeq != 7 {
		t.Fatalf("Append of two = seqs %v, last %d; want [6 7], 7", got, a.Conversation.LastSeq)
	}
	if a.Conversation.Intent != "hours" || a.Conversation.Preview != "9 to 5" {
		t.Errorf("conversation after the answer: intent %q preview %q", a.Conversation.Intent, a.Conversation.Preview)
	}
	sent = append(sent, a.Messages...)
	// Every field survives the round trip.
	a, err = s.Append(bg, c.ID, store.NewMessage{From: "bot", AuthorID: "ai", Author: "Assistant", Text: "partial answer",
		Incomplete: true, StreamID: "st1", Via: "ai", Intent: "returns"})
	if err != nil {
		t.Fatalf("Append without client id: %v", err)
	}
	sent = append(sent, a.Messages...)
	got, err := s.Messages(c.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, got)
	if len(got) != len(sent) {
		t.Fatalf("read %d messages, appended %d", len(got), len(sent))
	}
	for i := range got {
		if !sameMessage(got[i], sent[i]) {
			t.Errorf("message %d\n read     %+v\n appended %+v", i, got[i], sent[i])
		}
	}
	conv, err := s.Conversation(c.ID)
	if err != nil || conv.LastSeq != 8 || conv.Intent != "returns" || conv.Preview != "partial answer" {
		t.Errorf("Conversation after appends = %+v, %v", conv, err)
	}
	if conv.UpdatedAt.Before(c.UpdatedAt) {
		t.Errorf("UpdatedAt went back: %v before %v", conv.UpdatedAt, c.UpdatedAt)
	}
}

func testIdempotent[S ChatStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	first, err := s.Append(bg, c.ID, store.NewMessage{ClientID: "x", From: "visitor", Text: "once"})
	if err != nil {
		t.Fatal(err)
	}
	// Many messages later (the whole life, not a time window) the same id
	// is still known.
	for i := range 40 {
		if _, err := s.Append(bg, c.ID, store.NewMessage{ClientID: fmt.Sprint("y", i), From: "agent", Text: "filler"}); err != nil {
			t.Fatal(err)
		}
	}
	again, err := s.Append(bg, c.ID, store.NewMessage{ClientID: "x", From: "visitor", Text: "a resend may differ"})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate[0] || !sameMessage(again.Messages[0], first.Messages[0]) {
		t.Errorf("resend = %+v dup %v; want the first message %+v, marked duplicate", again.Messages[0], again.Duplicate, first.Messages[0])
	}
	if again.Conversation.LastSeq != 41 {
		t.Errorf("a resend moved LastSeq to %d, want 41", again.Conversation.LastSeq)
	}
	// A batch with one known id and one new one stores only the new one.
	mixed, err := s.Append(bg, c.ID,
		store.NewMessage{ClientID: "y3", From: "agent", Text: "filler"},
		store.NewMessage{ClientID: "z", From: "visitor", Text: "new"},
	)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(mixed.Duplicate) != "[true false]" || mixed.Messages[0].Seq != 5 || mixed.Messages[1].Seq != 42 {
		t.Errorf("mixed batch = seqs %v dup %v; want [5 42] [true false]", seqsOf(mixed.Messages), mixed.Duplicate)
	}
	// The same id in another conversation is another message.
	_, c2 := NewVisitor(t, s)
	other, err := s.Append(bg, c2.ID, store.NewMessage{ClientID: "x", From: "visitor", Text: "elsewhere"})
	if err != nil || other.Duplicate[0] || other.Messages[0].Seq != 1 {
		t.Errorf("same client id in another conversation = %+v, %v", other, err)
	}
	all, err := s.Messages(c.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, all)
	if len(all) != 42 {
		t.Errorf("conversation holds %d messages, want 42", len(all))
	}
}

func testAppendUnknown[S ChatStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, err := s.Append(bg, "nosuchconversat", store.NewMessage{ClientID: "a", From: "visitor", Text: "hi"})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Append to an unknown conversation: error = %v, want ErrNotFound", err)
	}
	if msgs, err := s.Messages("nosuchconversat", 0, 0); err != nil || len(msgs) != 0 {
		t.Errorf("Messages of an unknown conversation = %v, %v; want none", msgs, err)
	}
}

func testResume[S ChatStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	_, other := NewVisitor(t, s)
	const n = 150 // more than one page or index block in any backend
	for i := range n {
		if _, err := s.Append(bg, c.ID, store.NewMessage{ClientID: fmt.Sprint("c", i), From: "visitor", Text: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if _, err := s.Append(bg, other.ID, store.NewMessage{From: "visitor", Text: "interleaved"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		after     uint64
		limit     int
		wantFirst uint64
		wantLen   int
	}{
		{0, 0, 1, n},
		{0, 10, 1, 10},
		{63, 0, 64, n - 63},
		{64, 5, 65, 5},
		{130, 0, 131, n - 130},
		{n - 1, 0, n, 1},
		{n, 0, 0, 0},
		{n + 10, 0, 0, 0},
	}
	for _, tc := range tests {
		got, err := s.Messages(c.ID, tc.after, tc.limit)
		if err != nil {
			t.Fatalf("Messages(after %d, limit %d): %v", tc.after, tc.limit, err)
		}
		if len(got) != tc.wantLen || (tc.wantLen > 0 && got[0].Seq != tc.wantFirst) {
			t.Errorf("Messages(after %d, limit %d) = %d messages from %v; want %d from %d", tc.after, tc.limit, len(got), seqsOf(got[:min(1, len(got))]), tc.wantLen, tc.wantFirst)
			continue
		}
		for i, m := range got {
			if m.Seq != tc.wantFirst+uint64(i) || m.ConversationID != c.ID {
				t.Errorf("Messages(after %d): message %d is %s/%d", tc.after, i, m.ConversationID, m.Seq)
				break
			}
		}
	}
}

func testOnAppend[S ChatStore](t *testing.T, b Backend[S]) {
	var (
		mu  sync.Mutex
		got []store.Appended
	)
	s := b.Open(t, func(a store.Appended) { mu.Lock(); got = append(got, a); mu.Unlock() })
	_, c := NewVisitor(t, s)
	if _, err := s.Append(bg, c.ID, store.NewMessage{ClientID: "a", From: "visitor", Text: "one"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(bg, c.ID, store.NewMessage{ClientID: "b", From: "visitor", Text: "two"}, store.NewMessage{From: "bot", Text: "three"}); err != nil {
		t.Fatal(err)
	}
	// A resend stores nothing and is not published again.
	if _, err := s.Append(bg, c.ID, store.NewMessage{ClientID: "a", From: "visitor", Text: "one"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("OnAppend ran %d times, want 2 (not for the resend)", len(got))
	}
	if s := seqsOf(got[0].Messages); fmt.Sprint(s) != "[1]" {
		t.Errorf("first OnAppend has seqs %v", s)
	}
	if s := seqsOf(got[1].Messages); fmt.Sprint(s) != "[2 3]" || got[1].Conversation.LastSeq != 3 || got[1].Conversation.ID != c.ID {
		t.Errorf("second OnAppend has seqs %v, conversation %+v", s, got[1].Conversation)
	}
}

func testLifecycle[S ChatStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	step := func(name string, fn func(*store.Conversation) error, wantErr error, status, handler, agent string) {
		t.Helper()
		got, err := s.UpdateConversation(bg, c.ID, fn)
		if !errors.Is(err, wantErr) {
			t.Fatalf("%s: error = %v, want %v", name, err, wantErr)
		}
		if err == nil && (got.Status != status || got.Handler != handler || got.AgentID != agent) {
			t.Errorf("%s returned %s/%s/%q, want %s/%s/%q", name, got.Status, got.Handler, got.AgentID, status, handler, agent)
		}
		read, err := s.Conversation(c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if read.Status != status || read.Handler != handler || read.AgentID != agent {
			t.Errorf("after %s the conversation is %s/%s/%q, want %s/%s/%q", name, read.Status, read.Handler, read.AgentID, status, handler, agent)
		}
	}
	appendMsg := func(from, text string, wantReopened bool) store.Appended {
		t.Helper()
		a, err := s.Append(bg, c.ID, store.NewMessage{From: from, Text: text})
		if err != nil {
			t.Fatal(err)
		}
		if a.Reopened != wantReopened {
			t.Errorf("%s message %q: Reopened = %v, want %v", from, text, a.Reopened, wantReopened)
		}
		return a
	}
	appendMsg("visitor", "I need a person", false)
	step("hand-off", store.HandOff, nil, "open", "queue", "")
	step("second hand-off", store.HandOff, store.ErrNotBot, "open", "queue", "")
	step("routed", func(c *store.Conversation) error { return store.Assign(c, "a1", store.HandlerQueue) }, nil, "open", "agent", "a1")
	step("routed again", func(c *store.Conversation) error { return store.Assign(c, "a2", store.HandlerQueue) }, store.ErrAlreadyTaken, "open", "agent", "a1")
	step("taken over", func(c *store.Conversation) error { return store.Assign(c, "a2", "") }, nil, "open", "agent", "a2")
	step("requeued", store.Requeue, nil, "open", "queue", "")
	step("taken", func(c *store.Conversation) error { return store.Assign(c, "a1", "") }, nil, "open", "agent", "a1")
	step("closed", store.Close, nil, "closed", "agent", "a1")
	step("closed twice", store.Close, store.ErrNotOpen, "closed", "agent", "a1")
	step("taking a closed one", func(c *store.Conversation) error { return store.Assign(c, "a2", "") }, store.ErrNotOpen, "closed", "agent", "a1")

	a := appendMsg("agent", "one more thing", false)
	if a.Conversation.Status != store.StatusClosed {
		t.Errorf("an agent's message reopened the conversation: %+v", a.Conversation)
	}
	a = appendMsg("system", "note", false)
	if a.Conversation.Preview != "one more thing" {
		t.Errorf("a system line became the preview: %q", a.Conversation.Preview)
	}
	a = appendMsg("visitor", "I'm back", true)
	if a.Conversation.Status != store.StatusOpen || a.Conversation.Handler != store.HandlerBot || a.Conversation.AgentID != "" {
		t.Errorf("reopened conversation is %+v, want open with the bot and no agent", a.Conversation)
	}
	if read, _ := s.Conversation(c.ID); read.Status != store.StatusOpen || read.Handler != store.HandlerBot || read.Preview != "I'm back" || read.LastSeq != 4 {
		t.Errorf("stored after the reopen: %+v", read)
	}
	appendMsg("visitor", "still here", false)
	// The line saying an agent joined names them (assign sets author_id):
	// it is how the search's agent filter knows who had a conversation
	// they never wrote in, on every backend and every cluster node.
	j, err := s.Append(bg, c.ID, store.NewMessage{From: "system", AuthorID: "a2", Text: "Ann joined the conversation"})
	if err != nil {
		t.Fatal(err)
	}
	if msgs, err := s.Messages(c.ID, j.Messages[0].Seq-1, 0); err != nil || len(msgs) != 1 || msgs[0].From != "system" || msgs[0].AuthorID != "a2" {
		t.Errorf("the joined line read back as %+v, %v", msgs, err)
	}
}

func testUpdateConversation[S ChatStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	errStop := errors.New("stop")
	if _, err := s.UpdateConversation(bg, c.ID, func(c *store.Conversation) error { c.Handler = store.HandlerQueue; return errStop }); !errors.Is(err, errStop) {
		t.Errorf("error = %v, want the fn's", err)
	}
	if got, _ := s.Conversation(c.ID); got.Handler != store.HandlerBot {
		t.Errorf("a failed update changed the conversation: %+v", got)
	}
	if _, err := s.UpdateConversation(bg, "nosuchconversat", store.Requeue); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateConversation(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.Append(bg, c.ID, store.NewMessage{From: "visitor", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.UpdateConversation(bg, c.ID, store.HandOff)
	if err != nil || got.LastSeq != 1 || got.Preview != "hi" || got.UpdatedAt.Before(c.UpdatedAt) {
		t.Errorf("an update lost what appends wrote: %+v, %v", got, err)
	}
}

// testConcurrent appends from several goroutines, through peers when the
// backend has them (other nodes), to one conversation: seqs stay
// contiguous, every append that returned is stored exactly once, and a
// client id raced by two writers is stored once.
func testConcurrent[S ChatStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	const writers, each = 4, 15
	stores := []S{s}
	for range writers - 1 {
		stores = append(stores, peer(t, b, s))
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked = map[string]uint64{}
		errs  []error
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Each message is sent by two writers at once: the same
				// client id must be stored once, and both told its seq.
				id := fmt.Sprintf("w%d-%d", w/2, i)
				a, err := stores[w].Append(bg, c.ID, store.NewMessage{ClientID: id, From: "visitor", Text: id})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if prev, ok := acked[id]; ok && prev != a.Messages[0].Seq {
					errs = append(errs, fmt.Errorf("client id %s acked as seq %d and %d", id, prev, a.Messages[0].Seq))
				} else {
					acked[id] = a.Messages[0].Seq
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	msgs, err := stores[len(stores)-1].Messages(c.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, msgs)
	bySeq := map[uint64]string{}
	for _, m := range msgs {
		bySeq[m.Seq] = m.ClientID
	}
	for id, seq := range acked {
		if bySeq[seq] != id {
			t.Errorf("acked %s as seq %d, but seq %d holds %q", id, seq, seq, bySeq[seq])
		}
	}
	if want := writers / 2 * each; len(msgs) != want {
		t.Errorf("stored %d messages, want %d (each client id once)", len(msgs), want)
	}
	conv, err := s.Conversation(c.ID)
	if err != nil || conv.LastSeq != uint64(len(msgs)) {
		t.Errorf("conversation LastSeq = %d, %v; want %d", conv.LastSeq, err, len(msgs))
	}
}

func testSettings[S ChatStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	type doc struct {
		Title string `json:"title"`
		N     int    `json:"n"`
	}
	var d doc
	if found, err := s.Setting("widget", &d); err != nil || found {
		t.Fatalf("Setting before any put = %v, %v", found, err)
	}
	if data, err := s.SettingBytes("intents.model"); err != nil || data != nil {
		t.Fatalf("SettingBytes before any put = %v, %v", data, err)
	}
	if err := s.PutSetting(bg, "widget", doc{Title: "Hi", N: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting(bg, "widget", doc{Title: "Hello", N: 2}); err != nil {
		t.Fatal(err)
	}
	if found, err := s.Setting("widget", &d); err != nil || !found || d != (doc{"Hello", 2}) {
		t.Errorf("Setting = %v, %v, %+v", found, err, d)
	}
	// A fitted model is a large binary document.
	// Over NATS's default 1 MB message, under D1's 2 MB row.
	blob := make([]byte, 3<<19)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	if err := s.PutSettingBytes(bg, "intents.model", blob); err != nil {
		t.Fatal(err)
	}
	got, err := s.SettingBytes("intents.model")
	if err != nil || string(got) != string(blob) {
		t.Errorf("SettingBytes = %d bytes, %v; want the %d put", len(got), err, len(blob))
	}
	if err := s.PutSettingBytes(bg, "intents.model", []byte("small")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SettingBytes("intents.model"); err != nil || string(got) != "small" {
		t.Errorf("SettingBytes after a smaller put = %q, %v", got, err)
	}
}

func testClosed[S ChatStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	if err := b.Close(s); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.Append(bg, c.ID, store.NewMessage{From: "visitor", Text: "late"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Append after Close: error = %v, want ErrClosed", err)
	}
	if err := s.PutSetting(bg, "x", 1); !errors.Is(err, store.ErrClosed) {
		t.Errorf("PutSetting after Close: error = %v, want ErrClosed", err)
	}
	if err := b.Close(s); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
