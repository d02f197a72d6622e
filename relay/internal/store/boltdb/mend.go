package boltdb

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
)

// lostMarker is the quarantine's value for a message seq nothing could be
// read of: the seq stays used, so it is never handed out twice.
var lostMarker = []byte("lost")

// mend applies a check's findings to a structurally sound database (the
// repair's copy) and returns those it acted on.
func mend(tx *bolt.Tx, findings []finding, now time.Time) ([]finding, error) {
	var done []finding
	for _, f := range findings {
		var err error
		switch f.fix {
		case fixNone:
			continue
		case fixQuarantine:
			err = quarantine(tx, []byte(f.area), f.key)
		case fixOrphans:
			err = quarantinePrefix(tx, bucketMessages, []byte(f.conv))
		case fixGap:
			err = quarantinePut(tx, bucketMessages, messageKey(f.conv, f.seq), lostMarker)
		case fixLastSeq:
			err = editJSON(tx, bucketConversations, f.conv, func(c *store.Conversation) { c.LastSeq = f.seq })
		case fixConvOwner:
			err = editJSON(tx, bucketConversations, f.conv, func(c *store.Conversation) { c.VisitorID = f.id })
		case fixConv:
			err = rebuildConversation(tx, f.conv, f.id, now)
		case fixVisitor:
			err = rebuildVisitor(tx, f.conv, f.id)
		case fixUsername:
			err = rebuildUsername(tx, f.id)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Problem, err)
		}
		done = append(done, f)
	}
	return done, nil
}

func quarantineBucket(tx *bolt.Tx, area []byte) (*bolt.Bucket, error) {
	q, err := tx.CreateBucketIfNotExists(bucketQuarantine)
	if err != nil {
		return nil, err
	}
	return q.CreateBucketIfNotExists(area)
}

func quarantinePut(tx *bolt.Tx, area, k, v []byte) error {
	q, err := quarantineBucket(tx, area)
	if err != nil {
		return err
	}
	return q.Put(bytes.Clone(k), bytes.Clone(v))
}

// quarantine moves one record out of its bucket.
func quarantine(tx *bolt.Tx, area, k []byte) error {
	b := tx.Bucket(area)
	if b == nil {
		return nil
	}
	v := b.Get(k)
	if v == nil {
		return nil // moved already (a record can be named by two findings)
	}
	if err := quarantinePut(tx, area, k, v); err != nil {
		return err
	}
	return b.Delete(k)
}

func quarantinePrefix(tx *bolt.Tx, area, prefix []byte) error {
	var keys [][]byte
	c := tx.Bucket(area).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := quarantine(tx, area, k); err != nil {
			return err
		}
	}
	return nil
}

func editJSON(tx *bolt.Tx, bucket []byte, id string, fn func(*store.Conversation)) error {
	var c store.Conversation
	if err := getJSON(tx.Bucket(bucket), []byte(id), &c); err != nil {
		return err
	}
	fn(&c)
	return putJSON(tx.Bucket(bucket), []byte(id), c)
}

// rebuildConversation makes a conversation for a visitor whose record was
// lost, from the messages that remain (store.ApplyMessage, as if they were
// appended again), then closes it: nobody is promised an answer, and the
// visitor's next message reopens it.
func rebuildConversation(tx *bolt.Tx, conv, visitorID string, now time.Time) error {
	created := now
	var v store.Visitor
	if getJSON(tx.Bucket(bucketVisitors), []byte(visitorID), &v) == nil && !v.CreatedAt.IsZero() {
		created = v.CreatedAt
	}
	c := store.NewConversation(conv, visitorID, created)
	prefix := []byte(conv)
	cur := tx.Bucket(bucketMessages).Cursor()
	for k, val := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, val = cur.Next() {
		var m store.Message
		if isMessageKey(k, conv) && json.Unmarshal(val, &m) == nil {
			store.ApplyMessage(&c, m)
		}
	}
	// Then its messages still in the log, which follow those.
	err := tx.Bucket(bucketLog).ForEach(func(_, val []byte) error {
		var m store.Message
		if json.Unmarshal(val, &m) == nil && m.ConversationID == conv && m.Seq > c.LastSeq {
			store.ApplyMessage(&c, m)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Seqs set aside count as used.
	if q := tx.Bucket(bucketQuarantine); q != nil {
		if qm := q.Bucket(bucketMessages); qm != nil {
			qc := qm.Cursor()
			for k, _ := qc.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = qc.Next() {
				if isMessageKey(k, conv) {
					c.LastSeq = max(c.LastSeq, binary.BigEndian.Uint64(k[len(conv):]))
				}
			}
		}
	}
	if c.Status == store.StatusOpen {
		store.Close(&c)
	}
	return putJSON(tx.Bucket(bucketConversations), []byte(conv), c)
}

// rebuildVisitor makes a visitor record for a conversation whose visitor
// was lost. It has no token, so nobody can resume as it; the transcript
// stays readable in the admin page.
func rebuildVisitor(tx *bolt.Tx, conv, visitorID string) error {
	var c store.Conversation
	if err := getJSON(tx.Bucket(bucketConversations), []byte(conv), &c); err != nil {
		return err
	}
	return putJSON(tx.Bucket(bucketVisitors), []byte(visitorID), store.Visitor{ID: visitorID, ConversationID: conv, CreatedAt: c.CreatedAt})
}

func rebuildUsername(tx *bolt.Tx, accountID string) error {
	var a store.Account
	if err := getJSON(tx.Bucket(bucketAccounts), []byte(accountID), &a); err != nil {
		return err
	}
	ub := tx.Bucket(bucketUsernames)
	if ub.Get(usernameKey(a.Username)) != nil {
		// Two accounts with one username: the one the index does not know
		// is the damaged one.
		return quarantine(tx, bucketAccounts, []byte(a.ID))
	}
	return ub.Put(usernameKey(a.Username), []byte(a.ID))
}
