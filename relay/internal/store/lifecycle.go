package store

import (
	"errors"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/protocol"
)

// A conversation's life, in one place. Every backend and every consumer
// changes a conversation only through these functions, so bbolt, D1 and
// JetStream agree on what each step does:
//
//	NewConversation                      open, bot
//	HandOff         open, bot          → open, queue
//	Assign          open, any handler  → open, agent (agent id set)
//	Requeue         open, any handler  → open, queue (agent id cleared)
//	Close           open               → closed (handler and agent kept, for history)
//	ApplyMessage    a visitor message in a closed conversation
//	                                   → open, bot (agent id cleared): reopened
//
// The D1 backend cannot call Go inside its one-statement append, so its
// schema's trigger (d1/migrations) is the SQL form of ApplyMessage; the
// conformance suite (storetest) checks that it agrees.

// Errors of a transition that does not apply.
var (
	// ErrNotOpen means the conversation is closed.
	ErrNotOpen = errors.New("the conversation is closed")
	// ErrNotBot means a hand-off found the conversation already with people.
	ErrNotBot = errors.New("the conversation is not handled by the bot")
	// ErrAlreadyTaken means the conversation left the handler an
	// assignment expected (someone else took it first).
	ErrAlreadyTaken = errors.New("the conversation was already taken")
)

// PreviewLen is how much of the newest message a conversation list shows.
const PreviewLen = 140

// NewConversation is a visitor's first conversation: open, with the bot.
func NewConversation(id, visitorID string, now time.Time) Conversation {
	return Conversation{ID: id, VisitorID: visitorID, Status: StatusOpen, Handler: HandlerBot, CreatedAt: now, UpdatedAt: now}
}

// HandOff moves a conversation from the bot to the queue for a person.
func HandOff(c *Conversation) error {
	switch {
	case c.Status != StatusOpen:
		return ErrNotOpen
	case c.Handler != HandlerBot:
		return ErrNotBot
	}
	c.Handler = HandlerQueue
	return nil
}

// Assign gives an open conversation to an agent. When from is not empty the
// conversation must still be with that handler (a routed assignment must
// not steal what a person took meanwhile); "" takes it from anyone.
func Assign(c *Conversation, agentID, from string) error {
	switch {
	case c.Status != StatusOpen:
		return ErrNotOpen
	case from != "" && c.Handler != from:
		return ErrAlreadyTaken
	}
	c.Handler, c.AgentID = HandlerAgent, agentID
	return nil
}

// Requeue puts an open conversation back in the queue, with no agent.
func Requeue(c *Conversation) error {
	if c.Status != StatusOpen {
		return ErrNotOpen
	}
	c.Handler, c.AgentID = HandlerQueue, ""
	return nil
}

// Close ends an open conversation. Its handler and agent stay, so the
// history shows who had it last.
func Close(c *Conversation) error {
	if c.Status != StatusOpen {
		return ErrNotOpen
	}
	c.Status = StatusClosed
	return nil
}

// ApplyMessage applies a newly stored message to its conversation: the newest
// seq and activity time, the preview a list shows (what people said, not
// system lines or ratings), the last matched intent, and a visitor's
// message reopening a closed conversation for the bot (a rating, which a
// closed conversation asks for, does not). It reports whether it reopened
// the conversation.
func ApplyMessage(c *Conversation, m Message) (reopened bool) {
	c.LastSeq = m.Seq
	if m.Time.After(c.UpdatedAt) {
		c.UpdatedAt = m.Time
	}
	if m.From == protocol.FromVisitor && c.Status == StatusClosed {
		c.Status, c.Handler, c.AgentID = StatusOpen, HandlerBot, ""
		reopened = true
	}
	if m.Intent != "" {
		c.Intent = m.Intent
	}
	if m.From != protocol.FromSystem && m.From != protocol.FromRating {
		c.Preview = ClipText(m.Text, PreviewLen)
	}
	return reopened
}

// ClipText cuts s to at most n bytes on a rune boundary, marking the cut.
func ClipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
