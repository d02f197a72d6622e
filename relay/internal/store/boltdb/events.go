package boltdb

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kefuhq/kefu/relay/internal/jsonx"
	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
)

// The event log (store.Event) lives in its own bucket, keyed by position
// (big-endian, from the bucket's sequence), and every event is put by the
// write that caused it, inside the same transaction: committed together or
// not at all. A message's event keeps only its conversation and seq; the
// text is read from the message when the log is read, so an erased
// conversation takes its text with it.

// eventRecord is an event as stored.
type eventRecord struct {
	ID   string    `json:"id"`
	Type string    `json:"type"`
	Conv string    `json:"conv"`
	Time time.Time `json:"time"`
	Seq  uint64    `json:"seq,omitempty"` // message.created: the message
	// Log is where a message.created event's message was put in the
	// message log (0: not in the log, or an event stored before issue
	// 16's session 5): its readers find it there or, once moved, by its
	// key, instead of searching the log's tail for it.
	Log          uint64              `json:"log,omitempty"`
	Conversation *store.Conversation `json:"conversation,omitempty"`
	Data         json.RawMessage     `json:"data,omitempty"`
}

// addEvent puts ev into the log in tx and counts it for OnEvents.
func (s *Store) addEvent(tx *bolt.Tx, ev store.Event) error { return s.addEventAt(tx, ev, 0) }

// addEventAt is addEvent for a message.created event whose message is at
// logPos in the message log (0: not in the log).
func (s *Store) addEventAt(tx *bolt.Tx, ev store.Event, logPos uint64) error {
	b := tx.Bucket(bucketEvents)
	b.FillPercent = 1 // only ever appended to (and pruned from the front): full pages
	pos, err := b.NextSequence()
	if err != nil {
		return err
	}
	r := eventRecord{ID: ev.ID, Type: ev.Type, Conv: ev.ConversationID, Time: ev.Time, Conversation: ev.Conversation, Data: ev.Data, Log: logPos}
	if ev.Message != nil {
		r.Seq = ev.Message.Seq
	}
	data, err := encodeEvent(&r)
	if err != nil {
		return fmt.Errorf("encode event %d: %w", pos, err)
	}
	if err := b.Put(binary.BigEndian.AppendUint64(nil, pos), data); err != nil {
		return err
	}
	s.batch.events++
	return nil
}

// encodeEvent is json.Marshal(r), byte for byte (FuzzEncodeEvent), written
// by hand for an event without a conversation snapshot or data — every
// message's event, one for every message the writer appends.
func encodeEvent(r *eventRecord) ([]byte, error) {
	if r.Conversation != nil || r.Data != nil {
		return marshalEvent(*r)
	}
	b := make([]byte, 0, 96+len(r.ID)+len(r.Type)+len(r.Conv))
	b = append(b, `{"id":`...)
	b = jsonx.AppendString(b, r.ID)
	b = append(b, `,"type":`...)
	b = jsonx.AppendString(b, r.Type)
	b = append(b, `,"conv":`...)
	b = jsonx.AppendString(b, r.Conv)
	b = append(b, `,"time":`...)
	b, ok := jsonx.AppendTime(b, r.Time)
	if !ok {
		return marshalEvent(*r)
	}
	if r.Seq != 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, r.Seq, 10)
	}
	if r.Log != 0 {
		b = append(b, `,"log":`...)
		b = strconv.AppendUint(b, r.Log, 10)
	}
	return append(b, '}'), nil
}

// Events returns up to limit events after position after, in commit
// order, and the position of the last one read: events of messages erased
// since are read and skipped, so a reader resumes after last, not after
// the last event returned. limit <= 0 means 1000.
func (s *Store) Events(_ context.Context, after uint64, limit int) ([]store.Event, uint64, error) {
	return s.events(after, limit, true)
}

// EventHeads is Events without the messages: a message.created event's
// Message is nil, and one whose message was erased since is not left out
// (notify.HeadsLog: for readers that never look at a message).
func (s *Store) EventHeads(_ context.Context, after uint64, limit int) ([]store.Event, uint64, error) {
	return s.events(after, limit, false)
}

func (s *Store) events(after uint64, limit int, messages bool) ([]store.Event, uint64, error) {
	if limit <= 0 {
		limit = 1000
	}
	var out []store.Event
	last := after
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil && len(out) < limit; k, v = c.Next() {
			pos := binary.BigEndian.Uint64(k)
			r, err := decodeEvent(v)
			if err != nil {
				return fmt.Errorf("decode event %d: %w: %w", pos, store.ErrCorrupt, err)
			}
			last = pos
			ev := store.Event{Pos: pos, ID: r.ID, Type: r.Type, ConversationID: r.Conv, Time: r.Time, Conversation: r.Conversation, Data: r.Data}
			if messages && r.Type == store.EventMessageCreated {
				m, err := s.eventMessage(tx, r) // in the log or the messages tree
				if errors.Is(err, store.ErrNotFound) {
					continue // erased since
				}
				if err != nil {
					return err
				}
				ev.Message = &m
			}
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, after, fmt.Errorf("store: events after %d: %w", after, err)
	}
	return out, last, nil
}

// Emit stores an event about a conversation in a transaction of its own:
// for what no other write records (a rating given through its own
// endpoint). typ must be one of store.EventTypes; data, when not nil, is
// encoded as JSON (at most store.MaxEventData bytes).
func (s *Store) Emit(ctx context.Context, convID, typ string, data any) error {
	ev, err := store.EmittedEvent(convID, typ, data, s.opts.Now())
	if err != nil {
		return fmt.Errorf("store: emit %s: %w", typ, err)
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		c, err := s.conv(tx, convID)
		if err != nil {
			return err
		}
		c.Preview = ""
		ev.Conversation = &c
		return s.addEvent(tx, ev)
	}, nil)
	if err != nil {
		return fmt.Errorf("store: emit %s: %w", typ, err)
	}
	return nil
}

// LastEventPos is the position of the newest event ever stored (0 for
// none): where a new reader starts.
func (s *Store) LastEventPos(context.Context) (uint64, error) {
	var pos uint64
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents)
		pos = b.Sequence()
		if k, _ := b.Cursor().Last(); len(k) == 8 {
			pos = max(pos, binary.BigEndian.Uint64(k))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: last event: %w", err)
	}
	return pos, nil
}

// FlushEvents has nothing to do on one node: events are written in the
// transaction of their cause. (The JetStream backend moves events a dead
// node left behind.)
func (s *Store) FlushEvents(context.Context) (int, error) { return 0, nil }

// PruneEvents deletes the events at positions up to upTo (those every
// reader has passed), at most 10 000 per call, and reports how many. The
// newest event is always kept, so positions never repeat after a repair
// (which copies records, not the bucket's sequence).
func (s *Store) PruneEvents(ctx context.Context, upTo uint64) (int, error) {
	n := 0
	err := s.update(ctx, func(tx *bolt.Tx) error {
		n = 0
		c := tx.Bucket(bucketEvents).Cursor()
		lastK, _ := c.Last()
		var keys [][]byte
		for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= upTo && len(keys) < 10000; k, _ = c.Next() {
			if bytes.Equal(k, lastK) {
				break
			}
			keys = append(keys, append([]byte(nil), k...))
		}
		b := tx.Bucket(bucketEvents)
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	}, nil)
	if err != nil {
		return 0, fmt.Errorf("store: prune events: %w", err)
	}
	return n, nil
}

// deleteEventsOf removes the events of conversations being deleted (a
// scan of the log, which readers keep short by pruning).
func deleteEventsOf(tx *bolt.Tx, ids map[string]bool) error {
	b := tx.Bucket(bucketEvents)
	var keys [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var r struct {
			Conv string `json:"conv"`
		}
		if json.Unmarshal(v, &r) == nil && ids[r.Conv] {
			keys = append(keys, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// fixSequences makes the event log's and the documents' sequences at
// least the largest position and revision stored: a repair copies records
// into a new file without the buckets' sequences, and a position or a
// revision handed out twice would make readers skip events or a
// compare-and-set succeed on a stale document.
func fixSequences(tx *bolt.Tx) error {
	eb := tx.Bucket(bucketEvents)
	if k, _ := eb.Cursor().Last(); k != nil && len(k) == 8 && eb.Sequence() < binary.BigEndian.Uint64(k) {
		if err := eb.SetSequence(binary.BigEndian.Uint64(k)); err != nil {
			return err
		}
	}
	db := tx.Bucket(bucketDocs)
	var maxRev uint64
	err := db.ForEach(func(_, v []byte) error {
		if len(v) >= 8 {
			maxRev = max(maxRev, binary.BigEndian.Uint64(v))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if db.Sequence() < maxRev {
		return db.SetSequence(maxRev)
	}
	return nil
}

// eventMessage reads the message of a message.created event: by its key
// in the messages tree (moved, or stored without the log), else at the
// log position the event names; an event without one (stored before it
// was recorded) searches as a history read does. Messages are never
// rewritten, so the entry at that position is the message, or gone.
func (s *Store) eventMessage(tx *bolt.Tx, r eventRecord) (store.Message, error) {
	if r.Log == 0 {
		return s.readMessage(tx, r.Conv, r.Seq)
	}
	m, err := getMessage(tx.Bucket(bucketMessages), r.Conv, r.Seq)
	if !errors.Is(err, store.ErrNotFound) {
		return m, err
	}
	v := tx.Bucket(bucketLog).Get(posKey(r.Log))
	if v == nil {
		return store.Message{}, fmt.Errorf("message %s/%d: %w", r.Conv, r.Seq, store.ErrNotFound) // erased
	}
	if h, err := moveHeader(v); err != nil || h.ConversationID != r.Conv || h.Seq != r.Seq {
		return store.Message{}, fmt.Errorf("log entry %d for message %s/%d: %w (kefu check)", r.Log, r.Conv, r.Seq, store.ErrCorrupt)
	}
	var out store.Message
	if err := json.Unmarshal(v, &out); err != nil {
		return store.Message{}, fmt.Errorf("decode log entry %d: %w: %w", r.Log, store.ErrCorrupt, err)
	}
	return out, nil
}

// marshalEvent is encodeEvent's way out to json.Marshal, given a copy:
// handing it r itself would move every caller's record to the heap.
func marshalEvent(r eventRecord) ([]byte, error) { return json.Marshal(&r) }

// decodeEvent is json.Unmarshal into an eventRecord (FuzzDecodeEvent),
// read by hand for exactly what encodeEvent writes without reflection:
// the event readers (webhooks, notifications, the AI's hand-off watch)
// each read every message's event back. Anything else — a snapshot,
// data, an escape in a string, a field out of place — takes
// json.Unmarshal.
func decodeEvent(v []byte) (eventRecord, error) {
	if r, ok := decodeFlatEvent(v); ok {
		return r, nil
	}
	var r eventRecord
	err := json.Unmarshal(v, &r)
	return r, err
}

func decodeFlatEvent(v []byte) (eventRecord, bool) {
	var r eventRecord
	var ok bool
	if v, ok = bytes.CutPrefix(v, []byte(`{"id":`)); !ok {
		return r, false
	}
	if r.ID, v, ok = asciiString(v); !ok {
		return r, false
	}
	if v, ok = bytes.CutPrefix(v, []byte(`,"type":`)); !ok {
		return r, false
	}
	if r.Type, v, ok = asciiString(v); !ok {
		return r, false
	}
	if v, ok = bytes.CutPrefix(v, []byte(`,"conv":`)); !ok {
		return r, false
	}
	if r.Conv, v, ok = asciiString(v); !ok {
		return r, false
	}
	if v, ok = bytes.CutPrefix(v, []byte(`,"time":`)); !ok {
		return r, false
	}
	end := bytes.IndexByte(v[min(1, len(v)):], '"') + 1
	if len(v) == 0 || v[0] != '"' || end <= 0 {
		return r, false
	}
	if err := r.Time.UnmarshalJSON(v[:end+1]); err != nil {
		return r, false
	}
	v = v[end+1:]
	if w, ok := bytes.CutPrefix(v, []byte(`,"seq":`)); ok {
		if r.Seq, v, ok = plainUint(w); !ok {
			return r, false
		}
	}
	if w, ok := bytes.CutPrefix(v, []byte(`,"log":`)); ok {
		if r.Log, v, ok = plainUint(w); !ok {
			return r, false
		}
	}
	return r, len(v) == 1 && v[0] == '}'
}

// asciiString reads a JSON string of printable ASCII without escapes
// (what IDs and types are) and what follows it.
func asciiString(v []byte) (string, []byte, bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", v, false
	}
	for i := 1; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			return string(v[1:i]), v[i+1:], true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return "", v, false
		}
	}
	return "", v, false
}

// plainUint reads a JSON number that is a non-negative integer without
// leading zeros, within uint64, and what follows it.
func plainUint(v []byte) (uint64, []byte, bool) {
	i := 0
	for i < len(v) && '0' <= v[i] && v[i] <= '9' {
		i++
	}
	if i == 0 || i > 1 && v[0] == '0' || i < len(v) && (v[i] == '.' || v[i] == 'e' || v[i] == 'E') {
		return 0, v, false
	}
	n, err := strconv.ParseUint(string(v[:i]), 10, 64)
	if err != nil {
		return 0, v, false
	}
	return n, v[i:], true
}
