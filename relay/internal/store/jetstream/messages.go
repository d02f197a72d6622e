package jetstream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// How appends from several nodes stay right (docs/cluster.md has the long
// form):
//
//   - The stream is the truth. A conversation's messages are the messages on
//     its subject, in stream order; message k carries seq k.
//   - A message is published with "expected last sequence for this subject"
//     set to the stream sequence of the conversation's newest message as
//     the appender knows it. JetStream refuses the publish if anything was
//     appended to the subject since, so two nodes can never both publish
//     seq k: one wins, the other catches up and tries k+1. Seqs are
//     contiguous because each is published only on top of the one before.
//   - The conversation record (a key-value entry) is a watermark: the
//     conversation as of stream sequence StreamSeq. It moves forward by
//     compare-and-set on its revision, after the client-id index entries of
//     the messages it covers are written. A record behind the stream (a
//     node died between publishing and updating it) is caught up by the next
//     append, which reads the subject past the watermark and applies what
//     it finds: store.ApplyMessage is deterministic, so any node repairs it
//     to the same result.
//   - Client ids live in a key-value bucket for the conversation's whole
//     life. A publish on top of the subject's last message implies the
//     appender's record covers every message, and so the index has every
//     client id: a resend is found, never stored twice.
//   - A publish whose ack was lost is recognised when the retry catches up:
//     each message carries a per-append id (Nats-Msg-Id), which also lets
//     JetStream drop an exact resend within its duplicate window.

// record is a conversation as stored: the conversation, and the stream
// sequence of the newest message it reflects.
type record struct {
	store.Conversation
	StreamSeq uint64 `json:"stream_seq"`
	// Pending are events written with the record and not yet moved into
	// the stream (events.go).
	Pending []store.Event `json:"pending,omitempty"`
}

// seqBlock is how many seqs one entry of the seq index covers: a resume
// read starts at most this many messages before the one it wants.
const seqBlock = 64

func (s *Store) convSubject(convID string) string { return s.subject + convID }

func clientIDKey(convID, clientID string) string {
	return convID + "." + base64.RawURLEncoding.EncodeToString([]byte(clientID))
}

func seqIndexKey(convID string, seq uint64) string {
	return convID + "." + strconv.FormatUint((seq-1)/seqBlock, 10)
}

// validID keeps ids usable as subject tokens and keys.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// getRecord reads a conversation record and its revision.
func (s *Store) getRecord(ctx context.Context, convID string) (record, uint64, error) {
	if !validID(convID) {
		return record{}, 0, fmt.Errorf("conversation %s: %w", convID, store.ErrNotFound)
	}
	e, err := s.convs.Get(ctx, convID)
	if err != nil {
		return record{}, 0, fmt.Errorf("conversation %s: %w", convID, notFound(err))
	}
	var r record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return record{}, 0, fmt.Errorf("decode conversation %s: %w", convID, err)
	}
	return r, e.Revision(), nil
}

// found is a message met while catching a record up.
type found struct {
	msg      store.Message
	msgID    string // its Nats-Msg-Id
	reopened bool   // it reopened the conversation
}

// catchUp applies to r every message of its subject past r.StreamSeq,
// writing their index entries first, and returns what it applied.
func (s *Store) catchUp(ctx context.Context, r *record) ([]found, error) {
	var out []found
	for {
		raw, err := s.msgs.GetMsg(ctx, r.StreamSeq+1, jetstream.WithGetMsgSubject(s.convSubject(r.ID)))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("catch up: %w", err)
		}
		var m store.Message
		if err := json.Unmarshal(raw.Data, &m); err != nil {
			return out, fmt.Errorf("catch up: decode message %d: %w", raw.Sequence, err)
		}
		if m.Seq != r.LastSeq+1 {
			return out, fmt.Errorf("catch up: conversation %s: stream message %d has seq %d after %d", r.ID, raw.Sequence, m.Seq, r.LastSeq)
		}
		if err := s.index(ctx, m, raw.Sequence); err != nil {
			return out, err
		}
		reopened := store.ApplyMessage(&r.Conversation, m)
		if reopened {
			r.Pending = append(r.Pending, store.ConversationEvent(store.EventReopened, r.Conversation, m.Time))
		}
		r.StreamSeq = raw.Sequence
		out = append(out, found{msg: m, msgID: raw.Header.Get(jetstream.MsgIDHeader), reopened: reopened})
	}
}

// index writes what must be findable about a stored message before the
// record moves past it: its client id, and every seqBlock-th message's
// stream sequence. Puts are idempotent, so a repair may write them again.
func (s *Store) index(ctx context.Context, m store.Message, streamSeq uint64) error {
	if m.ClientID != "" {
		v := strconv.FormatUint(m.Seq, 10) + ":" + strconv.FormatUint(streamSeq, 10)
		if _, err := s.clientID.Put(ctx, clientIDKey(m.ConversationID, m.ClientID), []byte(v)); err != nil {
			return fmt.Errorf("index client id: %w", err)
		}
	}
	if (m.Seq-1)%seqBlock == 0 {
		if _, err := s.seqIdx.Put(ctx, seqIndexKey(m.ConversationID, m.Seq), []byte(strconv.FormatUint(streamSeq, 10))); err != nil {
			return fmt.Errorf("index seq: %w", err)
		}
	}
	return nil
}

// stored finds the message a client id was stored as; false if none.
func (s *Store) stored(ctx context.Context, convID, clientID string) (store.Message, bool, error) {
	e, err := s.clientID.Get(ctx, clientIDKey(convID, clientID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return store.Message{}, false, nil
	}
	if err != nil {
		return store.Message{}, false, fmt.Errorf("client id %q: %w", clientID, err)
	}
	_, streamSeq, ok := strings.Cut(string(e.Value()), ":")
	n, err := strconv.ParseUint(streamSeq, 10, 64)
	if !ok || err != nil {
		return store.Message{}, false, fmt.Errorf("client id %q: bad index entry %q", clientID, e.Value())
	}
	raw, err := s.msgs.GetMsg(ctx, n)
	if err != nil {
		return store.Message{}, false, fmt.Errorf("client id %q: message %d: %w", clientID, n, err)
	}
	var m store.Message
	if err := json.Unmarshal(raw.Data, &m); err != nil {
		return store.Message{}, false, fmt.Errorf("client id %q: decode message %d: %w", clientID, n, err)
	}
	return m, true, nil
}

// maxAppendRounds bounds the retries of one append that keeps meeting
// other writers; each round makes progress for someone, so only a storm
// of appends to one conversation exhausts it.
const maxAppendRounds = 100

// Append stores msgs at the end of a conversation and returns once
// JetStream acknowledged them and the conversation record covers them. A
// message whose ClientID is already stored in the conversation is not
// stored again: the earlier one is returned, marked Duplicate. A visitor
// message reopens a closed conversation. When several messages are given,
// another node's message may land between them (never in the same seq).
func (s *Store) Append(ctx context.Context, convID string, msgs ...store.NewMessage) (store.Appended, error) {
	end, err := s.begin()
	if err != nil {
		return store.Appended{}, fmt.Errorf("store: append to %s: %w", convID, err)
	}
	defer end()
	unlock := s.lockConv(convID)
	defer unlock()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	out, err := s.appendLoop(ctx, convID, msgs)
	if err != nil {
		return store.Appended{}, fmt.Errorf("store: append to %s: %w", convID, err)
	}
	if s.opts.OnAppend != nil {
		for _, d := range out.Duplicate {
			if !d {
				s.opts.OnAppend(out)
				break
			}
		}
	}
	return out, nil
}

func (s *Store) appendLoop(ctx context.Context, convID string, msgs []store.NewMessage) (store.Appended, error) {
	nonce := store.NewID()
	msgID := func(i int) string { return nonce + "/" + strconv.Itoa(i) }
	ours := make(map[int]store.Message, len(msgs)) // published by this call
	reopen := make(map[int]bool, len(msgs))        // whether each of ours reopened the conversation
	for round := 0; ; round++ {
		if round == maxAppendRounds {
			return store.Appended{}, fmt.Errorf("gave up after %d rounds of concurrent writes", round)
		}
		if err := ctx.Err(); err != nil {
			return store.Appended{}, err
		}
		r, rev, err := s.getRecord(ctx, convID)
		if err != nil {
			return store.Appended{}, err
		}
		if round > 0 {
			// Someone else appended, or our last try's outcome is unknown:
			// bring the record up to the stream, spotting our own messages.
			caught, err := s.catchUp(ctx, &r)
			if err != nil {
				return store.Appended{}, err
			}
			for _, f := range caught {
				for i := range msgs {
					if f.msgID == msgID(i) {
						ours[i], reopen[i] = f.msg, f.reopened
					}
				}
			}
		}
		out := store.Appended{Messages: make([]store.Message, len(msgs)), Duplicate: make([]bool, len(msgs))}
		inBatch := map[string]int{}
		var pending []int
		for i, nm := range msgs {
			if m, ok := ours[i]; ok {
				out.Messages[i] = m
				continue
			}
			if nm.ClientID != "" {
				if j, ok := inBatch[nm.ClientID]; ok {
					out.Duplicate[i] = true
					out.Messages[i] = out.Messages[j] // filled once j is stored
					continue
				}
				m, dup, err := s.stored(ctx, convID, nm.ClientID)
				if err != nil {
					return store.Appended{}, err
				}
				if dup {
					out.Messages[i], out.Duplicate[i] = m, true
					continue
				}
				inBatch[nm.ClientID] = i
			}
			pending = append(pending, i)
		}

		if len(pending) > 0 && len(r.Pending) > 0 {
			// Events the record holds go into the stream before our
			// messages, which come after them in the record's history.
			if err := s.publishEvents(ctx, r.Pending); err != nil {
				return store.Appended{}, err
			}
			r.Pending = nil
		}
		lost := false
		now := s.opts.Now()
		for _, i := range pending {
			m := msgs[i].Stored(convID, r.LastSeq+1, now)
			data, err := json.Marshal(m)
			if err != nil {
				return store.Appended{}, fmt.Errorf("encode message: %w", err)
			}
			ack, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: s.convSubject(convID), Data: data},
				jetstream.WithExpectLastSequencePerSubject(r.StreamSeq),
				jetstream.WithMsgID(msgID(i)),
				jetstream.WithExpectStream(s.msgs.CachedInfo().Config.Name))
			if err != nil {
				if !conflict(err) {
					s.opts.Logger.Debug("jetstream: publish failed; catching up to see whether it landed", "conversation", convID, "err", err)
					if ctx.Err() != nil {
						return store.Appended{}, fmt.Errorf("publish: %w", err)
					}
				}
				lost = true
				break
			}
			if ack.Duplicate {
				// A resend of a publish that landed earlier: catch up to it.
				lost = true
				break
			}
			if err := s.index(ctx, m, ack.Sequence); err != nil {
				return store.Appended{}, err
			}
			reopen[i] = store.ApplyMessage(&r.Conversation, m)
			if reopen[i] {
				r.Pending = append(r.Pending, store.ConversationEvent(store.EventReopened, r.Conversation, now))
			}
			r.StreamSeq = ack.Sequence
			ours[i] = m
		}
		if lost {
			continue
		}
		for i := range msgs {
			if m, ok := ours[i]; ok {
				out.Messages[i] = m
			} else if j, ok := inBatch[msgs[i].ClientID]; ok && out.Duplicate[i] {
				out.Messages[i] = ours[j]
			}
		}
		if len(ours) == 0 && round == 0 {
			// Nothing new: the record is as read.
			out.Conversation = r.Conversation
			return out, nil
		}
		var mark uint64
		if len(r.Pending) > 0 {
			if mark, err = s.markPending(ctx, convID); err != nil {
				return store.Appended{}, err
			}
		}
		if err := s.putRecord(ctx, r, rev); conflict(err) {
			continue // the record moved; the next round re-applies ours on top
		} else if err != nil {
			return store.Appended{}, err
		}
		if mark != 0 {
			if err := s.flush(ctx, convID); err != nil {
				s.opts.Logger.Warn("jetstream: events left pending for FlushEvents", "conversation", convID, "err", err)
			} else {
				s.unmark(ctx, convID, mark)
			}
		}
		out.Conversation = r.Conversation
		for i := range ours {
			out.Reopened = out.Reopened || reopen[i]
		}
		return out, nil
	}
}

// putRecord writes a conversation record if it is still at rev.
func (s *Store) putRecord(ctx context.Context, r record, rev uint64) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode conversation %s: %w", r.ID, err)
	}
	if _, err := s.convs.Update(ctx, r.ID, data, rev); err != nil {
		if conflict(err) {
			return err
		}
		return fmt.Errorf("conversation %s: %w", r.ID, err)
	}
	s.superseded(s.convs, rev)
	return nil
}
