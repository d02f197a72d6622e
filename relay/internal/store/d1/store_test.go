package d1

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

var t0 = time.UnixMilli(1_795_500_000_123)

func newTestStore(t *testing.T, db DB, onAppend func(store.Appended)) *Store {
	t.Helper()
	return New(db, Options{Now: func() time.Time { return t0 }, OnAppend: onAppend, Backoff: time.Microsecond})
}

// convRow is a conversations row as qConversation returns it.
func convRow(status, handler string, lastSeq, reopenedSeq int64) []any {
	return []any{"c1", "v1", status, handler, "", t0.UnixMilli(), t0.UnixMilli(), lastSeq, "", "", reopenedSeq}
}

// appendRow is what qAppend returns: the new seq and the conversation
// without its id, as it was before the trigger (lastSeq < seq) or after.
func appendRow(seq int64, status, handler string, lastSeq, reopenedSeq int64) []any {
	return append([]any{seq}, convRow(status, handler, lastSeq, reopenedSeq)[1:]...)
}

func msgRow(seq int64, clientID any, from, text string) []any {
	return []any{seq, clientID, from, "", "", text, t0.UnixMilli(), "", "", int64(0), ""}
}

func TestAppend(t *testing.T) {
	visitor := store.NewMessage{ClientID: "q1", From: "visitor", Text: "hello"}
	conflict := errors.New(`D1_ERROR: UNIQUE constraint failed: messages.conversation_id, messages.seq: SQLITE_CONSTRAINT`)
	tests := []struct {
		name      string
		msgs      []store.NewMessage
		steps     []step
		wantSeqs  []uint64
		wantDup   []bool
		reopened  bool
		published int
		wantErr   error // matched with errors.Is; nil: no error
		// wantConv is the conversation returned: "status handler last N"
		// and " preview P", " intent I" when set. Empty: not checked.
		wantConv string
	}{
		{
			name: "new message",
			msgs: []store.NewMessage{visitor},
			steps: []step{
				{query: qAppend, args: []any{"c1", "q1", "visitor", "", "", "hello", t0.UnixMilli(), "", "", int64(0), ""}, rows: [][]any{appendRow(1, "open", "bot", 0, 0)}},
			},
			wantSeqs: []uint64{1}, wantDup: []bool{false}, published: 1,
			wantConv: "open bot last 1 preview hello",
		},
		{
			name: "resend of a stored client id",
			msgs: []store.NewMessage{visitor},
			steps: []step{
				{query: qAppend},
				{query: qMessageByClientID, args: []any{"c1", "q1"}, rows: [][]any{msgRow(4, "q1", "visitor", "hello")}},
				{query: qConversation, rows: [][]any{convRow("open", "bot", 9, 0)}},
			},
			wantSeqs: []uint64{4}, wantDup: []bool{true}, published: 0,
		},
		{
			name: "seq taken by a concurrent append is retried",
			msgs: []store.NewMessage{visitor},
			steps: []step{
				{query: qAppend, err: conflict},
				{query: qAppend, err: conflict},
				{query: qAppend, rows: [][]any{appendRow(3, "open", "bot", 2, 0)}},
			},
			wantSeqs: []uint64{3}, wantDup: []bool{false}, published: 1,
		},
		{
			name: "retries run out",
			msgs: []store.NewMessage{visitor},
			steps: []step{
				{query: qAppend, err: conflict}, {query: qAppend, err: conflict}, {query: qAppend, err: conflict},
				{query: qAppend, err: conflict}, {query: qAppend, err: conflict},
			},
			wantErr: errConflict,
		},
		{
			name:    "other errors are not retried",
			msgs:    []store.NewMessage{visitor},
			steps:   []step{{query: qAppend, err: errors.New("D1_ERROR: Network connection lost")}},
			wantErr: errAny,
		},
		{
			name: "no such conversation",
			msgs: []store.NewMessage{{From: "bot", Text: "hi"}},
			steps: []step{
				{query: qAppend},
				{query: qConversation},
			},
			wantErr: store.ErrNotFound,
		},
		{
			name: "question and browser answer, question already stored",
			msgs: []store.NewMessage{visitor, {ClientID: "q1#answer", From: "bot", Text: "We ship daily", Intent: "shipping"}},
			steps: []step{
				{query: qAppend},
				{query: qMessageByClientID, rows: [][]any{msgRow(1, "q1", "visitor", "hello")}},
				{query: qAppend, args: []any{"c1", "q1#answer", "bot", "", "", "We ship daily", t0.UnixMilli(), "shipping", "", int64(0), ""}, rows: [][]any{appendRow(2, "open", "bot", 1, 0)}},
			},
			wantSeqs: []uint64{1, 2}, wantDup: []bool{true, false}, published: 1,
			wantConv: "open bot last 2 preview We ship daily intent shipping",
		},
		{
			name: "a visitor message reopens a closed conversation",
			msgs: []store.NewMessage{visitor},
			steps: []step{
				{query: qAppend, rows: [][]any{appendRow(7, "closed", "agent", 6, 0)}},
			},
			wantSeqs: []uint64{7}, wantDup: []bool{false}, reopened: true, published: 1,
			wantConv: "open bot last 7 preview hello",
		},
		{
			// An engine that ran the trigger before RETURNING: taken as is.
			name: "returned after the trigger",
			msgs: []store.NewMessage{visitor},
			steps: []step{
				{query: qAppend, rows: [][]any{appendRow(7, "open", "bot", 7, 7)}},
			},
			wantSeqs: []uint64{7}, wantDup: []bool{false}, reopened: true, published: 1,
			wantConv: "open bot last 7",
		},
		{
			name: "text Go cannot measure as SQLite does is read back",
			msgs: []store.NewMessage{{From: "visitor", Text: "bad \xff"}},
			steps: []step{
				{query: qAppend, rows: [][]any{appendRow(2, "open", "bot", 1, 0)}},
				{query: qConversation, rows: [][]any{convRow("open", "queue", 2, 0)}},
			},
			wantSeqs: []uint64{2}, wantDup: []bool{false}, published: 1,
			wantConv: "open queue last 2",
		},
		{
			name: "a bot message never reopens",
			msgs: []store.NewMessage{{From: "bot", Text: "hi"}},
			steps: []step{
				{query: qAppend, args: []any{"c1", nil, "bot", "", "", "hi", t0.UnixMilli(), "", "", int64(0), ""}, rows: [][]any{appendRow(8, "closed", "agent", 7, 7)}},
			},
			wantSeqs: []uint64{8}, wantDup: []bool{false}, published: 1,
			wantConv: "closed agent last 8 preview hi",
		},
		{
			name: "a system line is no preview",
			msgs: []store.NewMessage{{From: "system", Text: "handed over"}},
			steps: []step{
				{query: qAppend, rows: [][]any{appendRow(3, "open", "queue", 2, 0)}},
			},
			wantSeqs: []uint64{3}, wantDup: []bool{false}, published: 1,
			wantConv: "open queue last 3",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var published []store.Appended
			s := newTestStore(t, openScript(t, tc.steps...), func(a store.Appended) { published = append(published, a) })
			a, err := s.Append(context.Background(), "c1", tc.msgs...)
			if tc.wantErr != nil {
				if err == nil || (tc.wantErr != errAny && !errors.Is(err, tc.wantErr)) {
					t.Fatalf("Append error = %v, want %v", err, tc.wantErr)
				}
				if len(published) != 0 {
					t.Errorf("OnAppend called %d times after a failed append", len(published))
				}
				return
			}
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			var seqs []uint64
			for _, m := range a.Messages {
				seqs = append(seqs, m.Seq)
				if m.ConversationID != "c1" || !m.Time.Equal(t0) {
					t.Errorf("message %d: conversation %q time %v", m.Seq, m.ConversationID, m.Time)
				}
			}
			if fmt.Sprint(seqs) != fmt.Sprint(tc.wantSeqs) || fmt.Sprint(a.Duplicate) != fmt.Sprint(tc.wantDup) {
				t.Errorf("seqs %v duplicate %v, want %v %v", seqs, a.Duplicate, tc.wantSeqs, tc.wantDup)
			}
			if tc.wantConv != "" {
				got := fmt.Sprintf("%s %s last %d", a.Conversation.Status, a.Conversation.Handler, a.Conversation.LastSeq)
				if a.Conversation.Preview != "" {
					got += " preview " + a.Conversation.Preview
				}
				if a.Conversation.Intent != "" {
					got += " intent " + a.Conversation.Intent
				}
				if got != tc.wantConv || a.Conversation.ID != "c1" || a.Conversation.VisitorID != "v1" {
					t.Errorf("conversation %q (%s, %s), want %q", got, a.Conversation.ID, a.Conversation.VisitorID, tc.wantConv)
				}
			}
			if a.Reopened != tc.reopened {
				t.Errorf("Reopened = %v, want %v", a.Reopened, tc.reopened)
			}
			if len(published) != tc.published {
				t.Errorf("OnAppend called %d times, want %d", len(published), tc.published)
			}
		})
	}
}

// errAny in a test table accepts any error.
var errAny = errors.New("any error")

func TestUpdateConversation(t *testing.T) {
	toQueue := func(c *store.Conversation) error { c.Handler = store.HandlerQueue; return nil }
	tests := []struct {
		name    string
		fn      func(*store.Conversation) error
		steps   []step
		runs    int
		want    string // handler after
		wantErr error
	}{
		{
			name: "written when unchanged",
			fn:   toQueue,
			steps: []step{
				{query: qConversation, rows: [][]any{convRow("open", "bot", 3, 0)}},
				{query: qUpdateConversation, args: []any{"c1", "open", "queue", "", t0.UnixMilli(), "open", "bot", ""}, affected: 1},
			},
			runs: 1, want: "queue",
		},
		{
			name: "a concurrent change makes fn run again on the newer row",
			fn:   toQueue,
			steps: []step{
				{query: qConversation, rows: [][]any{convRow("closed", "bot", 3, 0)}},
				{query: qUpdateConversation, affected: 0},
				{query: qConversation, rows: [][]any{convRow("open", "bot", 4, 4)}},
				{query: qUpdateConversation, args: []any{"c1", "open", "queue", "", t0.UnixMilli(), "open", "bot", ""}, affected: 1},
			},
			runs: 2, want: "queue",
		},
		{
			name:    "an error from fn aborts",
			fn:      func(*store.Conversation) error { return errAny },
			steps:   []step{{query: qConversation, rows: [][]any{convRow("open", "bot", 3, 0)}}},
			runs:    1,
			wantErr: errAny,
		},
		{
			name:    "counters belong to appends",
			fn:      func(c *store.Conversation) error { c.LastSeq = 99; return nil },
			steps:   []step{{query: qConversation, rows: [][]any{convRow("open", "bot", 3, 0)}}},
			runs:    1,
			wantErr: errReadOnlyField,
		},
		{
			name:    "no such conversation",
			fn:      toQueue,
			steps:   []step{{query: qConversation}},
			wantErr: store.ErrNotFound,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t, openScript(t, tc.steps...), nil)
			runs := 0
			c, err := s.UpdateConversation(context.Background(), "c1", func(c *store.Conversation) error { runs++; return tc.fn(c) })
			if runs != tc.runs {
				t.Errorf("fn ran %d times, want %d", runs, tc.runs)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("UpdateConversation: %v", err)
			}
			if c.Handler != tc.want {
				t.Errorf("handler = %q, want %q", c.Handler, tc.want)
			}
		})
	}
}

func TestUpdateVisitorTraits(t *testing.T) {
	vRow := func(traits string, version int64) []any {
		return []any{"v1", "c1", "fp", traits, t0.UnixMilli(), version, "de"}
	}
	db := openScript(t,
		step{query: qVisitor, rows: [][]any{vRow(`{"plan":"pro"}`, 3)}},
		step{query: qUpdateVisitor, args: []any{"v1", "fp", `{"name":"Ann","plan":"pro"}`, int64(3), "de"}, affected: 0},
		step{query: qVisitor, rows: [][]any{vRow(`{"plan":"max"}`, 4)}},
		step{query: qUpdateVisitor, args: []any{"v1", "fp", `{"name":"Ann","plan":"max"}`, int64(4), "de"}, affected: 1},
	)
	s := newTestStore(t, db, nil)
	v, err := s.UpdateVisitor(context.Background(), "v1", func(v *store.Visitor) error {
		if v.Traits == nil {
			v.Traits = map[string]string{}
		}
		v.Traits["name"] = "Ann"
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateVisitor: %v", err)
	}
	if got, want := fmt.Sprint(v.Traits), "map[name:Ann plan:max]"; got != want {
		t.Errorf("traits = %s, want %s", got, want)
	}
}

func TestSettings(t *testing.T) {
	db := openScript(t,
		step{query: qSetting, args: []any{"widget"}},
		step{query: qSettings, rows: [][]any{{"intents", []byte(`{"version":2}`)}, {"intents.model", []byte{0, 1, 2}}}},
		step{query: qPutSetting, args: []any{"widget", []byte(`{"title":"Hi"}`)}, affected: 1},
	)
	s := newTestStore(t, db, nil)
	var doc struct {
		Version int    `json:"version"`
		Title   string `json:"title"`
	}
	if found, err := s.Setting("widget", &doc); err != nil || found {
		t.Fatalf("Setting before load = %v, %v; want false, nil", found, err)
	}
	if err := s.LoadSettings(context.Background()); err != nil {
		t.Fatalf("LoadSettings: %v", err)
	}
	// From here on reads come from memory: the script has no more reads.
	if found, err := s.Setting("intents", &doc); err != nil || !found || doc.Version != 2 {
		t.Errorf("Setting(intents) = %v, %v, %+v", found, err, doc)
	}
	if b, err := s.SettingBytes("intents.model"); err != nil || fmt.Sprint(b) != "[0 1 2]" {
		t.Errorf("SettingBytes = %v, %v", b, err)
	}
	if b, err := s.SettingBytes("ai"); err != nil || b != nil {
		t.Errorf("SettingBytes(missing) = %v, %v; want nil, nil", b, err)
	}
	if err := s.PutSetting(context.Background(), "widget", map[string]string{"title": "Hi"}); err != nil {
		t.Fatalf("PutSetting: %v", err)
	}
	if found, err := s.Setting("widget", &doc); err != nil || !found || doc.Title != "Hi" {
		t.Errorf("Setting after put = %v, %v, %+v", found, err, doc)
	}
}

// With SettingsOnFirstRead, nothing is read until a document is, and then
// all of them in one query; a failed load is reported and tried again.
func TestSettingsOnFirstRead(t *testing.T) {
	db := openScript(t,
		step{query: qSettings, err: errors.New("D1_ERROR: network")},
		step{query: qSettings, rows: [][]any{{"intents", []byte(`{"version":2}`)}, {"intents.model", []byte{0, 1, 2}}}},
		step{query: qPutSetting, args: []any{"widget", []byte(`{"title":"Hi"}`)}, affected: 1},
	)
	s := New(db, Options{SettingsOnFirstRead: true})
	var doc struct {
		Version int    `json:"version"`
		Title   string `json:"title"`
	}
	if _, err := s.Setting("intents", &doc); err == nil || !strings.Contains(err.Error(), "network") {
		t.Fatalf("Setting with the load failing: err = %v, want the load's error", err)
	}
	if found, err := s.Setting("intents", &doc); err != nil || !found || doc.Version != 2 {
		t.Fatalf("Setting(intents) = %v, %v, %+v", found, err, doc)
	}
	// From here on reads come from memory: the script has no more reads.
	if b, err := s.SettingBytes("intents.model"); err != nil || fmt.Sprint(b) != "[0 1 2]" {
		t.Errorf("SettingBytes = %v, %v", b, err)
	}
	if found, err := s.Setting("widget", &doc); err != nil || found {
		t.Errorf("Setting(missing) = %v, %v; want false, nil", found, err)
	}
	if err := s.PutSetting(context.Background(), "widget", map[string]string{"title": "Hi"}); err != nil {
		t.Fatalf("PutSetting: %v", err)
	}
	if found, err := s.Setting("widget", &doc); err != nil || !found || doc.Title != "Hi" {
		t.Errorf("Setting after put = %v, %v, %+v", found, err, doc)
	}
}

func TestMissingSchemaHint(t *testing.T) {
	s := newTestStore(t, openScript(t, step{query: qConversation, err: errors.New("D1_ERROR: no such table: conversations: SQLITE_ERROR")}), nil)
	_, err := s.Conversation("c1")
	if err == nil || !strings.Contains(err.Error(), "wrangler d1 migrations apply") {
		t.Errorf("error = %v, want a hint to apply the migrations", err)
	}
}
