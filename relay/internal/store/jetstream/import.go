package jetstream

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Import writes records that already exist elsewhere (kefu migrate), under
// their own ids, seqs and times. Every import is idempotent: what is
// already there is kept, so an interrupted migration is finished by
// running it again.

// ImportVisitor stores a visitor and its token hash unless present.
func (s *Store) ImportVisitor(ctx context.Context, tokenHash []byte, v store.Visitor) error {
	end, err := s.begin()
	if err != nil {
		return err
	}
	defer end()
	if err := s.addIdentities(ctx, store.IdentityKeys(&v), v.ID); err != nil {
		return fmt.Errorf("store: import visitor %s: %w", v.ID, err)
	}
	if err := createJSON(ctx, s.visitors, v.ID, v); err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("store: import visitor %s: %w", v.ID, err)
	}
	if _, err := s.tokens.Create(ctx, hex.EncodeToString(tokenHash), []byte(v.ID)); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("store: import visitor %s: token: %w", v.ID, err)
	}
	return nil
}

// ImportAccount stores an account unless present. A username held by
// another account is an error (store.ErrExists).
func (s *Store) ImportAccount(ctx context.Context, a store.Account) error {
	end, err := s.begin()
	if err != nil {
		return err
	}
	defer end()
	if _, err := s.users.Create(ctx, usernameKey(a.Username), []byte(a.ID)); errors.Is(err, jetstream.ErrKeyExists) {
		e, gerr := s.users.Get(ctx, usernameKey(a.Username))
		if gerr != nil {
			return fmt.Errorf("store: import account %s: %w", a.Username, gerr)
		}
		if string(e.Value()) != a.ID {
			return fmt.Errorf("store: import account %s: username held by another account: %w", a.Username, store.ErrExists)
		}
	} else if err != nil {
		return fmt.Errorf("store: import account %s: %w", a.Username, err)
	}
	if err := createJSON(ctx, s.accounts, a.ID, a); err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("store: import account %s: %w", a.Username, err)
	}
	return nil
}

// ImportConversation stores a conversation and its messages at their own
// seqs. Messages are pulled in pages from next (the seqs after the one
// given); the import resumes after what an earlier run stored. At the end
// the conversation's state (status, handler, agent, times, preview,
// intent) is the source's, not what replaying its messages made it.
func (s *Store) ImportConversation(ctx context.Context, c store.Conversation, next func(after uint64) ([]store.Message, error)) error {
	end, err := s.begin()
	if err != nil {
		return err
	}
	defer end()
	empty := store.NewConversation(c.ID, c.VisitorID, c.CreatedAt)
	if err := createJSON(ctx, s.convs, c.ID, record{Conversation: empty}); err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("store: import conversation %s: %w", c.ID, err)
	}
	for round := 0; round < maxAppendRounds; round++ {
		r, rev, err := s.getRecord(ctx, c.ID)
		if err != nil {
			return fmt.Errorf("store: import conversation %s: %w", c.ID, err)
		}
		if _, err := s.catchUp(ctx, &r); err != nil {
			return fmt.Errorf("store: import conversation %s: %w", c.ID, err)
		}
		for r.LastSeq < c.LastSeq {
			page, err := next(r.LastSeq)
			if err != nil {
				return fmt.Errorf("store: import conversation %s: read source: %w", c.ID, err)
			}
			if len(page) == 0 {
				return fmt.Errorf("store: import conversation %s: source ends at seq %d of %d", c.ID, r.LastSeq, c.LastSeq)
			}
			for _, m := range page {
				if m.Seq != r.LastSeq+1 {
					return fmt.Errorf("store: import conversation %s: source has seq %d after %d", c.ID, m.Seq, r.LastSeq)
				}
				if err := s.importMessage(ctx, &r, m); err != nil {
					return fmt.Errorf("store: import conversation %s: %w", c.ID, err)
				}
			}
		}
		done := r
		done.Status, done.Handler, done.AgentID = c.Status, c.Handler, c.AgentID
		done.CreatedAt, done.UpdatedAt, done.Preview, done.Intent = c.CreatedAt, c.UpdatedAt, c.Preview, c.Intent
		err = s.putRecord(ctx, done, rev)
		if conflict(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("store: import conversation %s: %w", c.ID, err)
		}
		return nil
	}
	return fmt.Errorf("store: import conversation %s: gave up after %d concurrent changes", c.ID, maxAppendRounds)
}

// importMessage publishes m on top of r's newest message, as Append does
// (messages.go), keeping m's seq and time.
func (s *Store) importMessage(ctx context.Context, r *record, m store.Message) error {
	m.ConversationID = r.ID
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode message %d: %w", m.Seq, err)
	}
	ack, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: s.convSubject(r.ID), Data: data},
		jetstream.WithExpectLastSequencePerSubject(r.StreamSeq),
		jetstream.WithMsgID("import/"+r.ID+"/"+strconv.FormatUint(m.Seq, 10)))
	if err != nil {
		return fmt.Errorf("publish message %d: %w", m.Seq, err)
	}
	if err := s.index(ctx, m, ack.Sequence); err != nil {
		return err
	}
	store.ApplyMessage(&r.Conversation, m)
	r.StreamSeq = ack.Sequence
	return nil
}
