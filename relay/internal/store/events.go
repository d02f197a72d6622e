package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Events: what happened to conversations, kept by the store in the same
// commit as the change that caused it (the transactional outbox). Webhooks,
// mail and push read them in commit order from a position they keep, so a
// crash between a commit and its delivery delays the delivery, never loses
// it. docs/notifications.md lists the types and their payloads.
const (
	EventConversationCreated = "conversation.created"
	EventMessageCreated      = "message.created"
	EventHandedOff           = "conversation.handed_off" // the bot passed it to the queue for a person
	EventAssigned            = "conversation.assigned"   // a person has it (routed, taken or transferred)
	EventRequeued            = "conversation.requeued"   // back in the queue (its agent went away or gave it back)
	EventClosed              = "conversation.closed"
	EventReopened            = "conversation.reopened" // a visitor wrote in a closed conversation
	EventRated               = "conversation.rated"    // the visitor rated it (emitted by the ratings feature)
	EventTagged              = "conversation.tagged"   // an agent added or removed tags (emitted by search)
)

// EventTypes lists every type, in the order docs and the admin page show them.
var EventTypes = []string{
	EventConversationCreated, EventMessageCreated, EventHandedOff, EventAssigned,
	EventRequeued, EventClosed, EventReopened, EventRated, EventTagged,
}

// ErrConflict means a compare-and-set lost: the document changed since it
// was read.
var ErrConflict = errors.New("changed meanwhile")

// Event is one entry of a store's event log.
type Event struct {
	// Pos is the event's place in the log: it grows in commit order (on
	// JetStream, the stream sequence). Readers resume after a Pos.
	Pos uint64 `json:"-"`
	// ID names the event for receivers that de-duplicate: a message's is
	// "<conversation id>/<seq>", the others' are random.
	ID             string    `json:"id"`
	Type           string    `json:"type"`
	ConversationID string    `json:"conversation_id"`
	Time           time.Time `json:"time"`
	// Conversation is the conversation right after the change, without its
	// preview (events keep no text a visitor wrote, except Message).
	Conversation *Conversation `json:"conversation,omitempty"`
	// Message is the stored message of a message.created event.
	Message *Message `json:"message,omitempty"`
	// Data is what an emitter attached (a rating's score and comment).
	Data json.RawMessage `json:"data,omitempty"`
}

// MessageEventID is the ID of the message.created event of seq in convID.
func MessageEventID(convID string, seq uint64) string {
	return convID + "/" + strconv.FormatUint(seq, 10)
}

// MessageEvent is the event a stored message is.
func MessageEvent(m Message) Event {
	return Event{ID: MessageEventID(m.ConversationID, m.Seq), Type: EventMessageCreated, ConversationID: m.ConversationID, Time: m.Time, Message: &m}
}

// ConversationEvent is an event of type typ about c, as of time at.
func ConversationEvent(typ string, c Conversation, at time.Time) Event {
	c.Preview = ""
	return Event{ID: NewID(), Type: typ, ConversationID: c.ID, Time: at, Conversation: &c}
}

// EventsFor are the events an update of a conversation from before to
// after makes, in the order they happened: every backend derives them here,
// so what "assigned" means is decided once. A visitor's message reopening a
// conversation is an append's event (Append adds EventReopened after the
// message), not an update's.
func EventsFor(before, after Conversation, at time.Time) []Event {
	var out []Event
	add := func(typ string) { out = append(out, ConversationEvent(typ, after, at)) }
	if before.Status == StatusClosed && after.Status == StatusOpen {
		add(EventReopened)
	}
	switch {
	case after.Handler == HandlerQueue && before.Handler == HandlerBot:
		add(EventHandedOff)
	case after.Handler == HandlerQueue && before.Handler == HandlerAgent:
		add(EventRequeued)
	case after.Handler == HandlerAgent && (before.Handler != HandlerAgent || before.AgentID != after.AgentID):
		add(EventAssigned)
	}
	if before.Status == StatusOpen && after.Status == StatusClosed {
		add(EventClosed)
	}
	return out
}

// ValidEventType reports whether typ is one of EventTypes.
func ValidEventType(typ string) bool {
	for _, t := range EventTypes {
		if t == typ {
			return true
		}
	}
	return false
}

// MaxEventData bounds what an emitter may attach to one event.
const MaxEventData = 8 << 10

// EmittedEvent checks and builds an event given to a store's Emit (the
// backend fills in the conversation): any type but message.created, which
// only an append makes, and data of at most MaxEventData bytes as JSON.
func EmittedEvent(convID, typ string, data any, now time.Time) (Event, error) {
	if !ValidEventType(typ) || typ == EventMessageCreated {
		return Event{}, fmt.Errorf("unknown event type %q", typ)
	}
	ev := Event{ID: NewID(), Type: typ, ConversationID: convID, Time: now}
	if data != nil {
		raw, err := json.Marshal(data)
		if err != nil {
			return ev, fmt.Errorf("encode data: %w", err)
		}
		if len(raw) > MaxEventData {
			return ev, fmt.Errorf("data is %d bytes; at most %d", len(raw), MaxEventData)
		}
		ev.Data = raw
	}
	return ev, nil
}

// Doc is one small document of the notifiers' durable state (a mail waiting
// to be sent, a webhook's position in the event log, a batch of
// notifications): JSON data under a kind and a key, with a revision that
// changes on every write, for compare-and-set.
type Doc struct {
	Key  string
	Data []byte
	Rev  uint64
}

// ValidDocKey reports whether s may be a document's kind or key: 1 to 64
// letters, digits, "-" and "_" (they become key-value keys and subject
// tokens on JetStream).
func ValidDocKey(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
