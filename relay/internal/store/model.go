// Package store defines what Kefu keeps: visitors, conversations,
// messages, accounts and sessions, the errors every storage backend
// shares, and the rules of a conversation's life (lifecycle.go) that every
// backend and consumer applies. Backends: boltdb (one bbolt file, the
// default), jetstream (a NATS cluster) and d1 (the edge build). Consumers
// declare the methods they need as interfaces; storetest is the
// conformance suite every backend passes.
package store

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"time"
)

// Sentinel errors every implementation of the store uses.
var (
	// ErrNotFound means the record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("store closed")
)

// Conversation statuses and handlers.
const (
	StatusOpen   = "open"
	StatusClosed = "closed"

	HandlerBot   = "bot"   // intents and the AI answer
	HandlerQueue = "queue" // waiting for a person
	HandlerAgent = "agent" // a person answers
)

// IDLen is the length of visitor and conversation ids.
const IDLen = 16

// Visitor is someone chatting through the widget.
type Visitor struct {
	ID             string            `json:"id"`
	ConversationID string            `json:"conversation_id"`
	Fingerprint    string            `json:"fingerprint,omitempty"`
	Traits         map[string]string `json:"traits,omitempty"`
	// Lang is the language the visitor's widget speaks (a catalogue's
	// tag, "de"); the relay's own messages to them use it.
	Lang string `json:"lang,omitempty"`
	// Contact is how the visitor asked to be reached when nobody could
	// answer in the chat (the widget's contact form); nil when they left
	// none. Mail to the visitor goes only there.
	Contact *Contact `json:"contact,omitempty"`
	// Context is their browser, time zone and visits (context.go); nil
	// until the relay learnt any.
	Context   *VisitorContext `json:"context,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// Contact is what a visitor left to be reached by email.
type Contact struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
	// Transcript: mail them the conversation when it closes.
	Transcript bool `json:"transcript,omitempty"`
	// Page is the address of the page the chat was on (mail links reopen
	// the chat there).
	Page string    `json:"page,omitempty"`
	At   time.Time `json:"at"`
	// Unsubscribed: they followed a mail's unsubscribe link; no more mail.
	Unsubscribed bool `json:"unsubscribed,omitempty"`
}

// Conversation is one visitor's thread. LastSeq is the seq of its newest
// message; seqs start at 1 and have no gaps.
type Conversation struct {
	ID        string    `json:"id"`
	VisitorID string    `json:"visitor_id"`
	Status    string    `json:"status"`
	Handler   string    `json:"handler"`
	AgentID   string    `json:"agent_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	LastSeq   uint64    `json:"last_seq"`
	Preview   string    `json:"preview,omitempty"`
	Intent    string    `json:"intent,omitempty"`
}

// Message is one stored chat message.
type Message struct {
	ConversationID string    `json:"conversation_id"`
	Seq            uint64    `json:"seq"`
	ClientID       string    `json:"client_id,omitempty"`
	From           string    `json:"from"`
	AuthorID       string    `json:"author_id,omitempty"`
	Author         string    `json:"author,omitempty"`
	Text           string    `json:"text"`
	Time           time.Time `json:"time"`
	Intent         string    `json:"intent,omitempty"`
	Via            string    `json:"via,omitempty"`
	Incomplete     bool      `json:"incomplete,omitempty"`
	StreamID       string    `json:"stream_id,omitempty"`
	// Attachment is the file a message carries (files.go); Rating a
	// visitor's rating (From protocol.FromRating). Pointers keep Message
	// comparable.
	Attachment *Attachment `json:"attachment,omitempty"`
	Rating     *Rating     `json:"rating,omitempty"`
	// Page is where a visitor's message was written (context.go).
	Page *Page `json:"page,omitempty"`
}

// NewMessage is a message to append. ClientID, when set, makes the append
// idempotent: the same ClientID in the same conversation is stored once.
type NewMessage struct {
	ClientID   string
	From       string
	AuthorID   string
	Author     string
	Text       string
	Intent     string
	Via        string
	Incomplete bool
	StreamID   string
	Attachment *Attachment
	Rating     *Rating
	Page       *Page
}

// Appended is the outcome of an Append: the conversation after it, and for
// each message given, the stored message and whether it was already there.
type Appended struct {
	Conversation Conversation
	Messages     []Message
	Duplicate    []bool
	Reopened     bool
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Fill sets what a new visitor starts with beyond its ids, fingerprint
// and creation time (its language, its context), so that they are stored
// in the write that creates it rather than in one more write each.
type Fill func(*Visitor)

// NewVisitor is a new visitor with fresh ids and its conversation's id,
// filled by fill (which cannot change the ids or the creation time). Both
// ids are time-ordered (NewTimeID): the visitors and conversations created
// together are stored side by side.
func NewVisitor(fingerprint string, now time.Time, fill []Fill) Visitor {
	v := Visitor{Fingerprint: fingerprint}
	for _, f := range fill {
		f(&v)
	}
	v.ID, v.ConversationID, v.CreatedAt = NewTimeID(now), NewTimeID(now), now
	return v
}

// NewID returns a random 16-character id (80 bits): ids name records, they
// never grant access, so they need to be unique, not secret.
func NewID() string {
	var b [10]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// timeDigits are idEncoding's 32 characters in byte order, so that a
// number written with them sorts as the number does.
const timeDigits = "234567abcdefghijklmnopqrstuvwxyz"

// idEpoch is where NewTimeID's clock starts (2026-01-01 UTC, in ms).
const idEpoch = 1767225600000

// NewTimeID returns a 16-character id, like NewID's, that sorts by the time
// it was made: 8 characters count 4-ms ticks since 2026 (40 bits: until
// 2165), 8 are random (40 bits). New visitors and conversations get such
// ids so that a group commit of new ones appends to the last leaf of each
// tree instead of touching a random leaf per record (the store's garbage
// and file pages per connect, issue 16). Conversation ids are not
// secret, but one names the thread of a conversation's emails and an
// emailed reply is taken only from the visitor's own address: the random
// half keeps an id unguessable even to someone who knows the moment it
// was made. Ids of either kind stay valid side by side.
func NewTimeID(now time.Time) string {
	var b [16]byte
	putTimeKey(b[:8], now)
	var r [5]byte
	rand.Read(r[:])
	idEncoding.Encode(b[8:], r[:])
	return string(b[:])
}

// TimeKeyLen is the length of TimeKey.
const TimeKeyLen = 8

// TimeKey is NewTimeID's time half: 8 characters that sort as the 4-ms
// ticks since 2026 they count.
func TimeKey(now time.Time) string {
	var b [TimeKeyLen]byte
	putTimeKey(b[:], now)
	return string(b[:])
}

// IsTimeKey reports whether s is written as TimeKey writes.
func IsTimeKey(s string) bool {
	if len(s) != TimeKeyLen {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

func putTimeKey(b []byte, now time.Time) {
	t := uint64(0)
	if ms := now.UnixMilli(); ms > idEpoch {
		t = uint64(ms-idEpoch) / 4
	}
	for i := TimeKeyLen - 1; i >= 0; i-- {
		b[i] = timeDigits[t&31]
		t >>= 5
	}
}

// Stored is the message nm becomes when stored as seq of convID at time at.
func (nm NewMessage) Stored(convID string, seq uint64, at time.Time) Message {
	return Message{
		ConversationID: convID, Seq: seq, ClientID: nm.ClientID, From: nm.From, AuthorID: nm.AuthorID,
		Author: nm.Author, Text: nm.Text, Time: at, Intent: nm.Intent, Via: nm.Via,
		Incomplete: nm.Incomplete, StreamID: nm.StreamID, Attachment: nm.Attachment, Rating: nm.Rating,
		Page: nm.Page,
	}
}
