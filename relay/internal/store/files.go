package store

import (
	"errors"
	"time"

	"github.com/kefuhq/kefu/relay/protocol"
)

// Attachments, uploads, internal notes and ratings: what a conversation
// keeps beside its messages (issue 15). Every backend with people (boltdb,
// jetstream) stores them; the edge's D1 store does not, and the edge
// refuses them (not_supported). storetest.Files is the conformance suite.

// Attachment is a stored file: what a message shows of it and how it is
// served. Type is what the content is (never what its name says); images
// were decoded and encoded again, so Size is what is stored.
type Attachment struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	Name           string    `json:"name"`
	Type           string    `json:"type"`
	Size           int64     `json:"size"`
	Width          int       `json:"width,omitempty"`
	Height         int       `json:"height,omitempty"`
	ThumbType      string    `json:"thumb_type,omitempty"` // "" when there is no thumbnail
	ThumbSize      int64     `json:"thumb_size,omitempty"`
	SHA256         string    `json:"sha256"`
	From           string    `json:"from"` // visitor or agent
	AuthorID       string    `json:"author_id,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

// Upload is a file on its way in: what the uploader announced and how
// many of its bytes arrived. Nobody but its uploader sees it; it becomes
// an Attachment, whole, or nothing.
type Upload struct {
	ConversationID string `json:"conversation_id"`
	// ID is the uploader's own id for it (resending a creation with the
	// same id finds the same upload).
	ID string `json:"id"`
	// AttachmentID is the id the finished file gets.
	AttachmentID string    `json:"attachment_id"`
	Name         string    `json:"name"`
	Size         int64     `json:"size"`
	Offset       int64     `json:"offset"`
	From         string    `json:"from"`
	AuthorID     string    `json:"author_id,omitempty"`
	Author       string    `json:"author,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Note is an agent's internal note on a conversation: never shown to the
// visitor. AfterSeq is the conversation's newest seq when it was written,
// which places it among the messages.
type Note struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	ClientID       string    `json:"client_id,omitempty"`
	AuthorID       string    `json:"author_id,omitempty"`
	Author         string    `json:"author,omitempty"`
	Text           string    `json:"text"`
	Time           time.Time `json:"time"`
	AfterSeq       uint64    `json:"after_seq"`
}

// NewNote is a note to add. ClientID, when set, makes adding idempotent.
type NewNote struct {
	ClientID string
	AuthorID string
	Author   string
	Text     string
}

// Rating is a visitor's satisfaction with a closed conversation, stored as
// a message of its own (From FromRating) so every closing keeps its
// rating: Score 1 to 5, an optional comment, and the agent who had the
// conversation when it closed.
type Rating struct {
	Score   int    `json:"score"`
	Comment string `json:"comment,omitempty"`
	AgentID string `json:"agent_id,omitempty"`
}

// Limits every backend applies.
const (
	// MaxUploadPart is the most bytes one AppendUpload takes: under
	// NATS's default 1 MB message with room for its headers.
	MaxUploadPart = 512 << 10
	// FileChunk is how a finished file is cut up in storage: small enough
	// for any page or message, big enough that a 10 MB file is 40 records.
	FileChunk = 256 << 10
	// MaxNotes bounds one conversation's notes (they are kept together).
	MaxNotes = 500
	// MaxAttachments bounds one conversation's attachments.
	MaxAttachments = 1000
)

// Errors of uploads, attachments and notes.
var (
	// ErrOffset means a part was sent for another offset than the one the
	// upload reached (a resend after a lost answer, or two senders): ask
	// where it stands and go on from there.
	ErrOffset = errors.New("the upload is at another offset")
	// ErrUploadFull means a part would go past the size announced.
	ErrUploadFull = errors.New("more bytes than the upload announced")
	// ErrTooMany means a conversation reached MaxNotes or MaxAttachments.
	ErrTooMany = errors.New("too many for one conversation")
)

// VisitorUsage is what counts against a visitor's quota in one
// conversation: the files they sent (with their thumbnails) and the full
// announced size of the uploads they started, which is what those may
// still bring. Agents' files do not count.
func VisitorUsage(as []Attachment, us []Upload) int64 {
	var n int64
	for _, a := range as {
		if a.From == protocol.FromVisitor {
			n += a.Size + a.ThumbSize
		}
	}
	for _, u := range us {
		if u.From == protocol.FromVisitor {
			n += u.Size
		}
	}
	return n
}
