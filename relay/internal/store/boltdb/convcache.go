package boltdb

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/kefuhq/kefu/relay/internal/jsonx"
	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
)

// cacheConversations bounds the writer's cache of conversation records.
// A busy relay appends to the same conversations over and over; decoding
// each record from the file and encoding it back per message was a third
// of an append's cost.
const cacheConversations = 1 << 16

// batchState is what one group commit changed, seen only by the writer
// goroutine: conversations read or written by the writes of the batch,
// written back once per transaction.
type batchState struct {
	convs   map[string]*store.Conversation
	dirty   map[string]bool
	deleted map[string]bool // removed earlier in this batch
	events  int             // events put in the log (events.go)
	// The message log's entries put, and the conversations whose entries
	// were erased, by this batch (log.go).
	logged     []logPending
	loggedIDs  map[clientRef]uint64 // client id → position, of logged
	logDropped map[string]bool
}

// conv returns the conversation as the batch sees it: as changed earlier
// in this batch, else from the cache of committed records, else from the
// file. The result is a copy the caller may change and hand to putConv.
func (s *Store) conv(tx *bolt.Tx, id string) (store.Conversation, error) {
	if s.batch.deleted[id] {
		return store.Conversation{}, fmt.Errorf("conversation %s: %w", id, store.ErrNotFound)
	}
	if c, ok := s.batch.convs[id]; ok {
		return *c, nil
	}
	if c, ok := s.cache[id]; ok {
		s.batch.convs[id] = &c
		return c, nil
	}
	c, err := getConversation(tx, id)
	if err != nil {
		return c, err
	}
	cp := c
	s.batch.convs[id] = &cp
	return c, nil
}

// putConv records a changed conversation; it is written at the end of the
// batch's transaction.
func (s *Store) putConv(c store.Conversation) {
	s.batch.convs[c.ID] = &c
	s.batch.dirty[c.ID] = true
}

// dropConv forgets a conversation removed in this batch: later writes of
// the batch find it gone, and no cache brings it back.
func (s *Store) dropConv(id string) {
	delete(s.batch.convs, id)
	delete(s.batch.dirty, id)
	delete(s.cache, id)
	s.batch.deleted[id] = true
}

// flushConvs writes the batch's changed conversations into tx.
func (s *Store) flushConvs(tx *bolt.Tx) error {
	b := tx.Bucket(bucketConversations)
	b.FillPercent = timeOrderedFill
	for id := range s.batch.dirty {
		data, err := encodeConversation(s.batch.convs[id])
		if err != nil {
			return fmt.Errorf("encode conversation %s: %w", id, err)
		}
		if err := b.Put([]byte(id), data); err != nil {
			return err
		}
	}
	return nil
}

// encodeConversation is json.Marshal(*c), byte for byte
// (FuzzEncodeConversation), without reflection: every commit writes the
// record of each conversation it appended to.
func encodeConversation(c *store.Conversation) ([]byte, error) {
	b := make([]byte, 0, 200+len(c.ID)+len(c.VisitorID)+len(c.Preview))
	b = append(b, `{"id":`...)
	b = jsonx.AppendString(b, c.ID)
	b = append(b, `,"visitor_id":`...)
	b = jsonx.AppendString(b, c.VisitorID)
	b = append(b, `,"status":`...)
	b = jsonx.AppendString(b, c.Status)
	b = append(b, `,"handler":`...)
	b = jsonx.AppendString(b, c.Handler)
	b = optString(b, `,"agent_id":`, c.AgentID)
	b = append(b, `,"created_at":`...)
	b, ok := jsonx.AppendTime(b, c.CreatedAt)
	if !ok {
		return json.Marshal(c)
	}
	b = append(b, `,"updated_at":`...)
	if b, ok = jsonx.AppendTime(b, c.UpdatedAt); !ok {
		return json.Marshal(c)
	}
	b = append(b, `,"last_seq":`...)
	b = strconv.AppendUint(b, c.LastSeq, 10)
	b = optString(b, `,"preview":`, c.Preview)
	b = optString(b, `,"intent":`, c.Intent)
	return append(b, '}'), nil
}

// promote keeps the committed batch's conversations for later batches,
// and indexes its log entries.
func (s *Store) promote() {
	s.log.apply(s.batch.logged, s.batch.logDropped)
	for id, c := range s.batch.convs {
		if _, ok := s.cache[id]; !ok && len(s.cache) >= cacheConversations {
			for k := range s.cache { // evict an arbitrary entry
				delete(s.cache, k)
				break
			}
		}
		s.cache[id] = *c
	}
}
