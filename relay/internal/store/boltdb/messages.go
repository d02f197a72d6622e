package boltdb

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"github.com/kefuhq/kefu/relay/internal/store"

	bolt "go.etcd.io/bbolt"
)

func messageKey(convID string, seq uint64) []byte {
	k := make([]byte, 0, len(convID)+8)
	k = append(k, convID...)
	return binary.BigEndian.AppendUint64(k, seq)
}

// clientIDKey records a client's message id in the messages bucket, right
// after the conversation's messages: the 0xff marker sorts after every seq
// (below 2^56), so a new message and its id usually land on the same page
// and a commit writes one page for both, not two.
func clientIDKey(convID, clientID string) []byte {
	k := make([]byte, 0, len(convID)+1+len(clientID))
	k = append(k, convID...)
	k = append(k, clientIDMarker)
	return append(k, clientID...)
}

const clientIDMarker = 0xff

// isMessageKey tells a message key of convID from its client-id keys.
func isMessageKey(k []byte, convID string) bool {
	return len(k) == len(convID)+8 && k[len(convID)] != clientIDMarker
}

// Append stores msgs at the end of a conversation, in one transaction, and
// returns after the commit. A message whose ClientID is already stored is
// not stored again: the earlier one is returned, marked Duplicate. A visitor
// message reopens a closed conversation.
func (s *Store) Append(ctx context.Context, convID string, msgs ...store.NewMessage) (store.Appended, error) {
	var out store.Appended
	now := s.opts.Now()
	fn := func(tx *bolt.Tx) error {
		out = store.Appended{}
		conv, err := s.conv(tx, convID)
		if err != nil {
			return err
		}
		stored := false
		for _, nm := range msgs {
			if nm.ClientID != "" {
				m, found, err := s.byClientID(tx, convID, nm.ClientID)
				if err != nil {
					return err
				}
				if found {
					out.Messages = append(out.Messages, m)
					out.Duplicate = append(out.Duplicate, true)
					continue
				}
			}
			m := nm.Stored(convID, conv.LastSeq+1, now)
			logPos, err := s.putMessage(tx, m)
			if err != nil {
				return err
			}
			if err := s.addEventAt(tx, store.MessageEvent(m), logPos); err != nil {
				return err
			}
			if store.ApplyMessage(&conv, m) {
				out.Reopened = true
				if err := s.addEvent(tx, store.ConversationEvent(store.EventReopened, conv, now)); err != nil {
					return err
				}
			}
			out.Messages = append(out.Messages, m)
			out.Duplicate = append(out.Duplicate, false)
			stored = true
		}
		if stored {
			s.putConv(conv)
		}
		out.Conversation = conv
		return nil
	}
	var after func()
	if s.opts.OnAppend != nil {
		after = func() {
			for _, d := range out.Duplicate {
				if !d {
					s.opts.OnAppend(out)
					return
				}
			}
		}
	}
	if err := s.update(ctx, fn, after); err != nil {
		return store.Appended{}, fmt.Errorf("store: append to %s: %w", convID, err)
	}
	return out, nil
}

// Messages returns up to limit messages of a conversation with seq > after,
// in seq order. limit <= 0 means all. Where they are stored (the log or
// the messages tree) does not show.
func (s *Store) Messages(convID string, after uint64, limit int) ([]store.Message, error) {
	var out []store.Message
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		out, err = s.readMessages(tx, convID, after, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: messages of %s: %w", convID, err)
	}
	return out, nil
}

// putMessage stores a new message: at the log's end (and returns its
// position there), or (NoLog) in the messages tree with its client id.
func (s *Store) putMessage(tx *bolt.Tx, m store.Message) (uint64, error) {
	if !s.opts.NoLog {
		return s.putLog(tx, m)
	}
	mb := tx.Bucket(bucketMessages)
	data, err := encodeMessage(&m)
	if err != nil {
		return 0, fmt.Errorf("encode message %s/%d: %w", m.ConversationID, m.Seq, err)
	}
	if err := mb.Put(messageKey(m.ConversationID, m.Seq), data); err != nil {
		return 0, err
	}
	if m.ClientID != "" {
		return 0, mb.Put(clientIDKey(m.ConversationID, m.ClientID), binary.BigEndian.AppendUint64(nil, m.Seq))
	}
	return 0, nil
}

func getMessage(b *bolt.Bucket, convID string, seq uint64) (store.Message, error) {
	var m store.Message
	v := b.Get(messageKey(convID, seq))
	if v == nil {
		return m, fmt.Errorf("message %s/%d: %w", convID, seq, store.ErrNotFound)
	}
	if err := json.Unmarshal(v, &m); err != nil {
		return m, fmt.Errorf("decode message %s/%d: %w: %w", convID, seq, store.ErrCorrupt, err)
	}
	return m, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return b.Put(key, data)
}
