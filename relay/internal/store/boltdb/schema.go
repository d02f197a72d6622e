package boltdb

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// timeOrderedFill is how full bbolt fills the pages it splits in the trees
// keyed by time-ordered ids (tokens, visitors, conversations: NewTimeID,
// TimeKey). New records go to the end of those trees, and a page split at
// bbolt's default of half full stays half full for good, since no new key
// ever lands in it: the trees, and the file pages a relay maps per
// visitor, were twice what the records need (issue 16). Not 1: a
// conversation's record is rewritten as it grows (its last seq, preview,
// agent), and a visitor's as it learns traits, and a page with a tenth
// free takes that without splitting at once.
const timeOrderedFill = 0.9

// Bucket names. Adding a bucket needs no migration: every open creates the
// missing ones. A change to the shape of stored data needs a migration.
var (
	bucketMeta          = []byte("meta")
	bucketVisitors      = []byte("visitors")      // visitor id → store.Visitor
	bucketTokens        = []byte("tokens")        // sha256(token) → visitor id
	bucketConversations = []byte("conversations") // conversation id → store.Conversation
	bucketMessages      = []byte("messages")      // conversation id ‖ seq (big-endian) → store.Message; conversation id ‖ 0xff ‖ client id → seq
	bucketSettings      = []byte("settings")      // name → JSON document (intents, widget, ai, …)
	bucketAccounts      = []byte("accounts")      // account id → store.Account
	bucketUsernames     = []byte("usernames")     // lower-cased username → account id
	bucketSessions      = []byte("sessions")      // sha256(session id) → store.Session
	bucketEvents        = []byte("events")        // position (big-endian) → event (events.go)
	bucketDocs          = []byte("docs")          // kind ‖ 0 ‖ key → revision ‖ document (docs.go)
	// Uploads, attachments and notes, keyed by their conversation first
	// (files.go).
	bucketUploads     = []byte("uploads")      // conversation id ‖ upload id → store.Upload
	bucketUploadParts = []byte("upload_parts") // conversation id ‖ upload id ‖ 0 ‖ offset → bytes
	bucketAttachments = []byte("attachments")  // conversation id ‖ attachment id → store.Attachment
	bucketFiles       = []byte("files")        // conversation id ‖ attachment id ‖ kind ‖ chunk → bytes
	bucketNotes       = []byte("notes")        // conversation id → []store.Note
	bucketLog         = []byte("log")          // position (big-endian) → store.Message not yet moved into messages (log.go)
	// bucketQuarantine holds what kefu repair set aside: one nested bucket
	// per bucket of origin, under the original key, the damaged value (or
	// nothing for a message seq that was lost). Made by a repair only.
	bucketQuarantine = []byte("quarantine")
)

var keySchema = []byte("schema")

func buckets() [][]byte {
	return [][]byte{bucketMeta, bucketVisitors, bucketTokens, bucketConversations, bucketMessages, bucketSettings, bucketAccounts, bucketUsernames, bucketSessions, bucketEvents, bucketDocs,
		bucketUploads, bucketUploadParts, bucketAttachments, bucketFiles, bucketNotes, bucketLog, bucketIdentities}
}

// migrations[i] moves a database from schema i to i+1. Never edit a released
// migration; append a new one.
func migrations() []func(tx *bolt.Tx) error {
	return []func(tx *bolt.Tx) error{
		// 0 → 1: the first schema; buckets are created by migrate itself.
		func(tx *bolt.Tx) error { return nil },
		// 1 → 2: client message ids move from their own bucket into the
		// messages bucket, next to their conversation's messages.
		func(tx *bolt.Tx) error {
			old := tx.Bucket([]byte("client_ids"))
			if old == nil {
				return nil
			}
			mb := tx.Bucket(bucketMessages)
			err := old.ForEach(func(k, v []byte) error {
				i := bytes.IndexByte(k, 0)
				if i < 0 {
					return fmt.Errorf("client id key %q has no separator", k)
				}
				return mb.Put(clientIDKey(string(k[:i]), string(k[i+1:])), v)
			})
			if err != nil {
				return err
			}
			return tx.DeleteBucket([]byte("client_ids"))
		},
		// 2 → 3: new messages go to the log bucket first (log.go). The
		// messages bucket keeps its layout, so nothing moves; the version
		// tells an older kefu, which would not read the log, to stop.
		func(tx *bolt.Tx) error { return nil },
		// 3 → 4: visitors indexed by identity (identity.go); the version
		// tells an older kefu, which would not keep the index, to stop.
		indexIdentities,
		// 4 → 5: new visitor tokens are stored under their time then their
		// hash (visitor.TokenHash), and message events carry their log
		// position. Nothing moves; the version tells an older kefu, which
		// would not find those visitors by their tokens, to stop.
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
		if err := fixSequences(tx); err != nil {
			return fmt.Errorf("sequences: %w", err)
		}
		if err := fixLogSequence(tx); err != nil {
			return fmt.Errorf("log sequence: %w", err)
		}
		return meta.Put(keySchema, binary.BigEndian.AppendUint64(nil, want))
	})
}
