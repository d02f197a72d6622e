package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Bucket names. Adding a bucket needs no migration: every open creates the
// missing ones. A change to the shape of stored data needs a migration.
var (
	bucketMeta          = []byte("meta")
	bucketVisitors      = []byte("visitors")      // visitor id → Visitor
	bucketTokens        = []byte("tokens")        // sha256(token) → visitor id
	bucketConversations = []byte("conversations") // conversation id → Conversation
	bucketMessages      = []byte("messages")      // conversation id ‖ seq (big-endian) → Message
	bucketClientIDs     = []byte("client_ids")    // conversation id ‖ 0 ‖ client id → seq
	bucketSettings      = []byte("settings")      // name → JSON document (intents, widget, ai, …)
	bucketAccounts      = []byte("accounts")      // account id → Account
	bucketUsernames     = []byte("usernames")     // lower-cased username → account id
	bucketSessions      = []byte("sessions")      // sha256(session id) → Session
)

var keySchema = []byte("schema")

func buckets() [][]byte {
	return [][]byte{bucketMeta, bucketVisitors, bucketTokens, bucketConversations, bucketMessages, bucketClientIDs, bucketSettings, bucketAccounts, bucketUsernames, bucketSessions}
}

// migrations[i] moves a database from schema i to i+1. Never edit a released
// migration; append a new one.
func migrations() []func(tx *bolt.Tx) error {
	return []func(tx *bolt.Tx) error{
		// 0 → 1: the first schema; buckets are created by migrate itself.
		func(tx *bolt.Tx) error { return nil },
	}
}

// SchemaVersion is the schema this binary writes.
func SchemaVersion() uint64 { return uint64(len(migrations())) }

func migrate(db *bolt.DB) error {
	return db.Update(func(tx *bolt.Tx) error {
		for _, name := range buckets() {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		var have uint64
		if v := meta.Get(keySchema); len(v) == 8 {
			have = binary.BigEndian.Uint64(v)
		}
		want := SchemaVersion()
		if have > want {
			return fmt.Errorf("%w: schema %d, this binary knows up to %d", ErrNewerSchema, have, want)
		}
		for v := have; v < want; v++ {
			if err := migrations()[v](tx); err != nil {
				return fmt.Errorf("schema %d to %d: %w", v, v+1, err)
			}
		}
		return meta.Put(keySchema, binary.BigEndian.AppendUint64(nil, want))
	})
}
