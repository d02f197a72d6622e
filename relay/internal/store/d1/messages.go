package d1

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
	for _, nm := range msgs {
		m, dup, err := s.appendOne(ctx, convID, nm, now)
		if err != nil {
			return store.Appended{}, wrap("append to "+convID, err)
		}
		out.Messages = append(out.Messages, m)
		out.Duplicate = append(out.Duplicate, dup)
		stored = stored || !dup
	}
	conv, reopenedSeq, err := scanConversation(s.db.QueryRowContext(ctx, qConversation, convID))
	if err != nil {
		return store.Appended{}, wrap("append to "+convID, err)
	}
	out.Conversation = conv
	for i, m := range out.Messages {
		if !out.Duplicate[i] && m.From == protocol.FromVisitor && m.Seq == reopenedSeq {
			out.Reopened = true
		}
	}
	if stored && s.opts.OnAppend != nil {
		s.opts.OnAppend(out)
	}
	return out, nil
}

// appendOne stores one message, or finds the one already stored under its
// client id.
func (s *Store) appendOne(ctx context.Context, convID string, nm store.NewMessage, now time.Time) (store.Message, bool, error) {
	var (
		seq uint64
		dup bool
		m   store.Message
	)
	err := retry(ctx, s.opts.Attempts, s.opts.Backoff, func() error {
		err := s.db.QueryRowContext(ctx, qAppend, appendArgs(convID, nm, now)...).Scan(&seq)
		switch {
		case err == nil:
			m = nm.Stored(convID, seq, now)
			return nil
		case seqConflict(err):
			s.opts.Logger.Debug("d1: append met a concurrent one; retrying", "conversation", convID)
			return fmt.Errorf("%w: %v", errConflict, err)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		// Nothing inserted: the client id is taken, or no such conversation.
		if nm.ClientID != "" {
			m, err = scanMessage(s.db.QueryRowContext(ctx, qMessageByClientID, convID, nm.ClientID), convID)
			if err == nil {
				dup = true
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if _, _, err := scanConversation(s.db.QueryRowContext(ctx, qConversation, convID)); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("conversation %s: %w", convID, store.ErrNotFound)
		} else if err != nil {
			return err
		}
		// The conversation exists and the id is not stored, yet nothing was
		// inserted: a message with this id was deleted between the two
		// reads, which nothing in Kefu does.
		return fmt.Errorf("conversation %s: message %q neither stored nor found", convID, nm.ClientID)
	})
	return m, dup, err
}

// Messages returns up to limit messages of a conversation with seq > after,
// in seq order. limit <= 0 means all.
func (s *Store) Messages(convID string, after uint64, limit int) ([]store.Message, error) {
	rows, err := s.db.QueryContext(context.Background(), qMessages, convID, int64(after), limitArg(limit))
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
