package d1

import (
	"context"
	"fmt"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// The statements of erasure and retention.
const (
	qConversations      = `SELECT ` + conversationColumns + ` FROM conversations`
	qVisitors           = `SELECT ` + visitorColumns + ` FROM visitors`
	qDeleteConversation = `DELETE FROM conversations WHERE id = ?1`
	qDeleteVisitor      = `DELETE FROM visitors WHERE id = ?1`
)

// Conversations returns the conversations keep accepts (all when keep is
// nil), in no particular order.
func (s *Store) Conversations(keep func(*store.Conversation) bool) ([]store.Conversation, error) {
	rows, err := s.query(context.Background(), qConversations)
	if err != nil {
		return nil, wrap("conversations", err)
	}
	defer rows.Close()
	var out []store.Conversation
	for rows.Next() {
		c, _, err := scanConversation(rows)
		if err != nil {
			return nil, wrap("conversations", err)
		}
		if keep == nil || keep(&c) {
			out = append(out, c)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("conversations", err)
	}
	return out, nil
}

// Visitors returns the visitors keep accepts (all when keep is nil).
func (s *Store) Visitors(keep func(*store.Visitor) bool) ([]store.Visitor, error) {
	rows, err := s.query(context.Background(), qVisitors)
	if err != nil {
		return nil, wrap("visitors", err)
	}
	defer rows.Close()
	var out []store.Visitor
	for rows.Next() {
		v, _, err := scanVisitor(rows)
		if err != nil {
			return nil, wrap("visitors", err)
		}
		if keep == nil || keep(&v) {
			out = append(out, v)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("visitors", err)
	}
	return out, nil
}

// DeleteConversations removes conversations with their messages, one
// statement each (the trigger of migrations/0002_erase.sql), and the
// visitor whose conversation each is: on D1 a visitor cannot outlive its
// conversation (a foreign key). It returns how many existed.
func (s *Store) DeleteConversations(ctx context.Context, ids []string) (int, error) {
	n := 0
	for _, id := range ids {
		k, err := s.exec(ctx, qDeleteConversation, id)
		if err != nil {
			return n, wrap(fmt.Sprintf("delete conversation %s", id), err)
		}
		if k > 0 {
			n++
		}
	}
	return n, nil
}

// DeleteVisitors removes visitors (their token hash is a column of the
// row). It returns how many existed.
func (s *Store) DeleteVisitors(ctx context.Context, ids []string) (int, error) {
	n := 0
	for _, id := range ids {
		k, err := s.exec(ctx, qDeleteVisitor, id)
		if err != nil {
			return n, wrap(fmt.Sprintf("delete visitor %s", id), err)
		}
		if k > 0 {
			n++
		}
	}
	return n, nil
}
