package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The event log on JetStream (docs/cluster.md, "Events"): the messages
// stream itself, read in stream order. A message is its own
// message.created event; every other event (created, handed off, assigned,
// closed, reopened, rated) is an entry on the conversation's event subject,
// prefix.evt.<conversation id>, in the same stream.
//
// An event must be stored in the same commit as its cause, and the cause
// of most is a compare-and-set of the conversation record, which no
// publish can join. So the record carries its events (record.Pending): the
// compare-and-set that changes the conversation writes its events with it
// — the transactional outbox, in one document. They are then moved into
// the stream (flush): published with their ids as Nats-Msg-Id, so a second
// mover within the duplicate window adds nothing, and removed from the
// record by another compare-and-set. Whoever touches the conversation next
// moves what is left first: an append publishes the record's pending
// events before its own message, so a conversation's events keep the
// order of the record's history. A node that dies between the two
// compare-and-sets leaves a marker (the pending bucket, written before the
// first one), and FlushEvents — run by the notifier — moves those.

// evtSubject is a conversation's event subject.
func (s *Store) evtSubject(convID string) string {
	return s.opts.Prefix + ".evt." + convID
}

// logSubjects match every entry of the event log.
func (s *Store) logSubjects() string { return s.opts.Prefix + ".*.>" }

// markPending notes that convID may get pending events, before the
// compare-and-set that writes them; it returns the marker's revision.
func (s *Store) markPending(ctx context.Context, convID string) (uint64, error) {
	rev, err := s.pending.Put(ctx, convID, []byte("1"))
	if err != nil {
		return 0, fmt.Errorf("mark pending events: %w", err)
	}
	return rev, nil
}

// unmark deletes the marker if it is still the one put at rev: a marker
// another writer put since stays, for its own events.
func (s *Store) unmark(ctx context.Context, convID string, rev uint64) {
	if err := s.pending.Delete(ctx, convID, jetstream.LastRevision(rev)); err != nil && !conflict(err) && !errors.Is(err, jetstream.ErrKeyNotFound) {
		s.opts.Logger.Debug("jetstream: pending marker stays", "conversation", convID, "err", err)
	}
}

// publishEvents publishes events to their conversation's subject, each
// with its id as Nats-Msg-Id.
func (s *Store) publishEvents(ctx context.Context, evs []store.Event) error {
	for _, ev := range evs {
		data, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		for {
			_, err = s.js.PublishMsg(ctx, &nats.Msg{Subject: s.evtSubject(ev.ConversationID), Data: data},
				jetstream.WithMsgID("evt:"+ev.ID), jetstream.WithExpectStream(s.msgs.CachedInfo().Config.Name))
			if !msgIDInProcess(err) {
				break
			}
			// Another node moves the same event this moment: once its
			// publish is through, ours is acked as its duplicate.
			select {
			case <-ctx.Done():
				return fmt.Errorf("publish event %s: %w", ev.Type, err)
			case <-time.After(10 * time.Millisecond):
			}
		}
		if err != nil {
			return fmt.Errorf("publish event %s: %w", ev.Type, err)
		}
	}
	return nil
}

// errCodeMsgIDInProcess is JetStream's "duplicate message id is in
// process": a publish with the same Nats-Msg-Id is being stored.
const errCodeMsgIDInProcess jetstream.ErrorCode = 10158

func msgIDInProcess(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeMsgIDInProcess
}

// flush moves a conversation's pending events into the stream and out of
// its record.
func (s *Store) flush(ctx context.Context, convID string) error {
	for range maxUpdateRounds {
		r, rev, err := s.getRecord(ctx, convID)
		if errors.Is(err, store.ErrNotFound) {
			return nil // erased meanwhile
		}
		if err != nil {
			return err
		}
		if len(r.Pending) == 0 {
			return nil
		}
		if err := s.publishEvents(ctx, r.Pending); err != nil {
			return err
		}
		r.Pending = nil
		if err := s.putRecord(ctx, r, rev); !conflict(err) {
			return err
		}
	}
	return fmt.Errorf("flush events of %s: gave up after %d concurrent changes", convID, maxUpdateRounds)
}

// changeRecord is UpdateConversation and Emit: apply fn to the record (it
// may add pending events), write it by compare-and-set, then flush. The
// marker is put first, so a death in between is found by FlushEvents.
func (s *Store) changeRecord(ctx context.Context, convID string, fn func(*record) error) (store.Conversation, error) {
	end, err := s.begin()
	if err != nil {
		return store.Conversation{}, err
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	if !validID(convID) {
		return store.Conversation{}, store.ErrNotFound
	}
	if _, _, err := s.getRecord(ctx, convID); err != nil {
		return store.Conversation{}, err
	}
	mark, err := s.markPending(ctx, convID)
	if err != nil {
		return store.Conversation{}, err
	}
	var out store.Conversation
	changed := false
	for round := 0; ; round++ {
		if round == maxUpdateRounds {
			return store.Conversation{}, fmt.Errorf("gave up after %d concurrent changes", round)
		}
		r, rev, err := s.getRecord(ctx, convID)
		if err != nil {
			return store.Conversation{}, err
		}
		n := len(r.Pending)
		if err := fn(&r); err != nil {
			s.unmark(ctx, convID, mark)
			return store.Conversation{}, err
		}
		out = r.Conversation
		changed = len(r.Pending) > n
		err = s.putRecord(ctx, r, rev)
		if conflict(err) {
			s.opts.Logger.Debug("jetstream: update met a concurrent one; retrying", "conversation", convID)
			continue
		}
		if err != nil {
			return store.Conversation{}, err
		}
		break
	}
	if changed {
		if err := s.flush(ctx, convID); err != nil {
			// The change is stored and its events with it; FlushEvents
			// moves them later. Not the caller's failure.
			s.opts.Logger.Warn("jetstream: events left pending for FlushEvents", "conversation", convID, "err", err)
			return out, nil
		}
	}
	s.unmark(ctx, convID, mark)
	return out, nil
}

// Emit stores an event about a conversation in a write of its own (a
// rating given through its own endpoint). typ must be one of
// store.EventTypes other than message.created; data, when not nil, is
// encoded as JSON (at most store.MaxEventData bytes).
func (s *Store) Emit(ctx context.Context, convID, typ string, data any) error {
	ev, err := store.EmittedEvent(convID, typ, data, s.opts.Now())
	if err != nil {
		return fmt.Errorf("store: emit %s: %w", typ, err)
	}
	_, err = s.changeRecord(ctx, convID, func(r *record) error {
		c := r.Conversation
		c.Preview = ""
		e := ev
		e.Conversation = &c
		r.Pending = append(r.Pending, e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: emit %s on %s: %w", typ, convID, err)
	}
	return nil
}

// FlushEvents moves into the log the events a node that died mid-write
// left in conversation records (found by their markers), and reports how
// many conversations it moved. The notifier runs it now and then.
func (s *Store) FlushEvents(ctx context.Context) (int, error) {
	end, err := s.begin()
	if err != nil {
		return 0, fmt.Errorf("store: flush events: %w", err)
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	type marker struct{ conv string }
	var marks []marker
	err = s.scan(ctx, s.pending, func(key string, _ []byte) error {
		marks = append(marks, marker{conv: key})
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: flush events: %w", err)
	}
	n := 0
	for _, m := range marks {
		e, err := s.pending.Get(ctx, m.conv)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("store: flush events: %w", err)
		}
		if err := s.flush(ctx, m.conv); err != nil {
			return n, fmt.Errorf("store: flush events of %s: %w", m.conv, err)
		}
		s.unmark(ctx, m.conv, e.Revision())
		n++
	}
	return n, nil
}

// Events returns up to limit events after stream sequence after, in
// stream order, and the position of the last one read. limit <= 0 means
// 1000. Each entry is asked of the stream's leader, as resume reads are.
func (s *Store) Events(ctx context.Context, after uint64, limit int) ([]store.Event, uint64, error) {
	if limit <= 0 {
		limit = 1000
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	var out []store.Event
	last := after
	for len(out) < limit {
		raw, err := s.msgs.GetMsg(ctx, last+1, jetstream.WithGetMsgSubject(s.logSubjects()))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return out, last, fmt.Errorf("store: events after %d: %w", last, err)
		}
		last = raw.Sequence
		ev, err := s.decodeEntry(raw.Subject, raw.Data)
		if err != nil {
			return out, last, fmt.Errorf("store: event %d: %w", raw.Sequence, err)
		}
		ev.Pos = raw.Sequence
		out = append(out, ev)
	}
	return out, last, nil
}

// LastEventPos is the stream's last sequence: where a new reader starts.
func (s *Store) LastEventPos(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	info, err := s.msgs.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: last event: %w", err)
	}
	return info.State.LastSeq, nil
}

// decodeEntry reads one entry of the messages stream as an event.
func (s *Store) decodeEntry(subject string, data []byte) (store.Event, error) {
	if strings.HasPrefix(subject, s.subject) {
		var m store.Message
		if err := json.Unmarshal(data, &m); err != nil {
			return store.Event{}, fmt.Errorf("decode message: %w", err)
		}
		return store.MessageEvent(m), nil
	}
	var ev store.Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return store.Event{}, fmt.Errorf("decode event: %w", err)
	}
	return ev, nil
}

// PruneEvents removes the event entries (not messages) at positions up to
// upTo, which every reader has passed, and reports 0 (JetStream does not
// count a purge's entries by subject).
func (s *Store) PruneEvents(ctx context.Context, upTo uint64) (int, error) {
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	err := s.msgs.Purge(ctx, jetstream.WithPurgeSubject(s.opts.Prefix+".evt.>"), jetstream.WithPurgeSequence(upTo+1))
	if err != nil {
		return 0, fmt.Errorf("store: prune events: %w", err)
	}
	return 0, nil
}
