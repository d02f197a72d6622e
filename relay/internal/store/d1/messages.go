package d1

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Append stores msgs at the end of a conversation and returns once D1 has
// them. A message whose ClientID is already stored in the conversation is
// not stored again: the earlier one is returned, marked Duplicate. A
// visitor message reopens a closed conversation (the schema's trigger).
//
// Each message is its own statement: when several are given (a question
// and the browser's FAQ answer), another writer's message may land between
// them, never in the same seq, and a failure part-way leaves the first
// stored; resending the same client ids stores the rest.
func (s *Store) Append(ctx context.Context, convID string, msgs ...store.NewMessage) (store.Appended, error) {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	out := store.Appended{}
	now := s.now()
	stored := false
	// conv is the conversation after the newest insert, as its statement
	// returned it: the append reads nothing back.
	var conv *store.Conversation
	for _, nm := range msgs {
		r, err := s.appendOne(ctx, convID, nm, now)
		if err != nil {
			return store.Appended{}, wrap("append to "+convID, err)
		}
		out.Messages = append(out.Messages, r.m)
		out.Duplicate = append(out.Duplicate, r.dup)
		if !r.dup {
			stored = true
			conv = r.conv
			out.Reopened = out.Reopened || r.reopened
		}
	}
	if conv == nil {
		// Nothing inserted (every message a resend), or an insert whose
		// conversation could not be worked out from what it returned.
		c, _, err := scanConversation(s.queryRow(ctx, qConversation, convID))
		if err != nil {
			return store.Appended{}, wrap("append to "+convID, err)
		}
		conv = &c
	}
	out.Conversation = *conv
	if stored && s.opts.OnAppend != nil {
		s.opts.OnAppend(out)
	}
	return out, nil
}

// appended is what appendOne did: the message (stored or found), and for a
// stored one the conversation after it (nil: unknown, read it) and whether
// it reopened it.
type appended struct {
	m        store.Message
	dup      bool
	conv     *store.Conversation
	reopened bool
}

// appendOne stores one message, or finds the one already stored under its
// client id.
func (s *Store) appendOne(ctx context.Context, convID string, nm store.NewMessage, now time.Time) (appended, error) {
	var out appended
	err := retry(ctx, s.opts.Attempts, s.opts.Backoff, func() error {
		var (
			seq uint64
			c   store.Conversation
			// rc is the conversation's reopened_seq.
			rc               uint64
			created, updated int64
		)
		err := s.queryRow(ctx, qAppend, appendArgs(convID, nm, now)...).Scan(&seq,
			&c.VisitorID, &c.Status, &c.Handler, &c.AgentID, &created, &updated, &c.LastSeq, &c.Preview, &c.Intent, &rc)
		switch {
		case err == nil:
			out.m = nm.Stored(convID, seq, now)
			c.ID, c.CreatedAt, c.UpdatedAt = convID, fromMillis(created), fromMillis(updated)
			if reopened, ok := appliedTrigger(&c, rc, out.m); ok {
				out.conv, out.reopened = &c, reopened
			}
			return nil
		case seqConflict(err):
			s.opts.Logger.Debug("d1: append met a concurrent one; retrying", "conversation", convID)
			return fmt.Errorf("%w: %v", errConflict, err)
		case !errors.Is(err, errNoRows):
			return err
		}
		// Nothing inserted: the client id is taken, or no such conversation.
		if nm.ClientID != "" {
			m, err := scanMessage(s.queryRow(ctx, qMessageByClientID, convID, nm.ClientID), convID)
			if err == nil {
				out.m, out.dup = m, true
				return nil
			}
			if !errors.Is(err, errNoRows) {
				return err
			}
		}
		if _, _, err := scanConversation(s.queryRow(ctx, qConversation, convID)); errors.Is(err, errNoRows) {
			return fmt.Errorf("conversation %s: %w", convID, store.ErrNotFound)
		} else if err != nil {
			return err
		}
		// The conversation exists and the id is not stored, yet nothing was
		// inserted: a message with this id was deleted between the two
		// reads, which nothing in Kefu does.
		return fmt.Errorf("conversation %s: message %q neither stored nor found", convID, nm.ClientID)
	})
	return out, err
}

// appliedTrigger makes c, the conversation as qAppend returned it with m
// just inserted, what the trigger messages_appended (migrations/0001)
// made of it, and reports whether m reopened it. SQLite gives RETURNING
// the values from before the row's AFTER triggers: then this is the
// trigger's UPDATE, in Go. Given them from after (last_seq already m's
// seq), it leaves them. ok is false when it cannot tell what the trigger
// did (text SQLite would measure otherwise than Go): read the row.
func appliedTrigger(c *store.Conversation, reopenedSeq uint64, m store.Message) (reopened, ok bool) {
	if c.LastSeq >= m.Seq {
		// After the trigger.
		return m.From == protocol.FromVisitor && reopenedSeq == m.Seq, true
	}
	if !utf8.ValidString(m.Text) {
		return false, false
	}
	c.LastSeq = m.Seq
	if m.Time.After(c.UpdatedAt) {
		c.UpdatedAt = m.Time
	}
	if m.From != protocol.FromSystem {
		c.Preview = clipChars(m.Text, store.PreviewLen)
	}
	if m.Intent != "" {
		c.Intent = m.Intent
	}
	if m.From == protocol.FromVisitor {
		if c.Status == store.StatusClosed {
			c.Handler, c.AgentID, reopened = store.HandlerBot, "", true
		}
		c.Status = store.StatusOpen
	}
	return reopened, true
}

// clipChars is the trigger's preview: up to n characters (SQLite's
// length and substr count them on TEXT), else the first n and "…".
func clipChars(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := range s {
		if n == 0 {
			i = k
			break
		}
		n--
	}
	return s[:i] + "…"
}

// Messages returns up to limit messages of a conversation with seq > after,
// in seq order. limit <= 0 means all.
func (s *Store) Messages(convID string, after uint64, limit int) ([]store.Message, error) {
	rows, err := s.query(context.Background(), qMessages, convID, int64(after), limitArg(limit))
	if err != nil {
		return nil, wrap("messages of "+convID, err)
	}
	defer rows.Close()
	var out []store.Message
	for rows.Next() {
		m, err := scanMessage(rows, convID)
		if err != nil {
			return nil, wrap("messages of "+convID, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("messages of "+convID, err)
	}
	return out, nil
}

// MessagesPage is Messages with the conversation's newest seq, read in
// one statement rather than two (the visitor HTTP API's history: a
// visitor's reload, a polling widget).
func (s *Store) MessagesPage(convID string, after uint64, limit int) ([]store.Message, uint64, error) {
	rows, err := s.query(context.Background(), qMessagesPage, convID, int64(after), limitArg(limit))
	if err != nil {
		return nil, 0, wrap("messages of "+convID, err)
	}
	defer rows.Close()
	var (
		out   []store.Message
		last  uint64
		found bool
	)
	for rows.Next() {
		var (
			m          store.Message
			clientID   nullString
			ms         int64
			incomplete int64
		)
		if err := rows.Scan(&last, &m.Seq, &clientID, &m.From, &m.AuthorID, &m.Author, &m.Text, &ms, &m.Intent, &m.Via, &incomplete, &m.StreamID); err != nil {
			return nil, 0, wrap("messages of "+convID, err)
		}
		found = true
		if m.Seq == 0 {
			continue // the conversation, without messages past after
		}
		m.ConversationID, m.ClientID, m.Time, m.Incomplete = convID, clientID.String, fromMillis(ms), incomplete != 0
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, wrap("messages of "+convID, err)
	}
	if !found {
		return nil, 0, wrap("messages of "+convID, fmt.Errorf("conversation %s: %w", convID, store.ErrNotFound))
	}
	return out, last, nil
}
