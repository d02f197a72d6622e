// Package protocol defines the JSON frames spoken on Kefu's WebSocket
// endpoints, the strict decoder for frames sent by clients, and the catalogue
// of error and close codes. docs/protocol.md describes every frame.
package protocol

import "time"

// Frame types. Client frames: hello, message, typing, identify,
// fingerprint. Server frames:
// welcome, message, ack, typing, delta, error, conversation, ping,
// availability.
const (
	TypeHello        = "hello"
	TypeWelcome      = "welcome"
	TypeMessage      = "message"
	TypeAck          = "ack"
	TypeTyping       = "typing"
	TypeDelta        = "delta"
	TypeError        = "error"
	TypeConversation = "conversation"
	TypeIdentify     = "identify"
	TypeFingerprint  = "fingerprint"
	TypePing         = "ping" // the relay's heartbeat, {"type":"ping"}, every ping_ms
	TypeAvailability = "availability"
)

// Who wrote a message.
const (
	FromVisitor = "visitor"
	FromAgent   = "agent"
	FromBot     = "bot"
	FromSystem  = "system"
	// FromRating is a visitor's rating of a closed conversation: the
	// message carries it in "rating" (and its comment as text).
	FromRating = "rating"
)

// Resume outcomes in a welcome frame.
const (
	ResumeOK    = "ok"    // replay follows from the client's last_seq
	ResumeReset = "reset" // the client's position was not honoured: drop local state, a full replay follows
	ResumeNew   = "new"   // a new visitor; nothing to replay
)

// Hello is the first frame a client sends.
type Hello struct {
	Type           string `json:"type"`
	Token          string `json:"token,omitempty"`
	ConversationID string `json:"conversation_id,omitempty"`
	LastSeq        uint64 `json:"last_seq"`
	Fingerprint    string `json:"fingerprint,omitempty"`
	// Lang is the language the widget speaks (the config's "lang"): the
	// relay's own messages to this visitor use it.
	Lang string `json:"lang,omitempty"`
	// What the page tells agents about the visitor (visitor context,
	// docs/protocol.md): the browser's own language (navigator.language),
	// its IANA time zone, and the address of the other site that led to
	// this page. Kept only once the visitor has a conversation.
	Locale   string `json:"locale,omitempty"`
	TZ       string `json:"tz,omitempty"`
	Referrer string `json:"referrer,omitempty"`
}

// Send is a chat message from a client. ID is the client's own id for it,
// used to acknowledge and de-duplicate. Intent is set when the browser already
// answered the message from that FAQ intent.
type Send struct {
	Type   string `json:"type"`
	ID     string `json:"id"`
	Text   string `json:"text"`
	Intent string `json:"intent,omitempty"`
	// PageURL and PageTitle are the page the message was written on
	// (http or https; the relay keeps its origin and path only).
	PageURL   string `json:"page_url,omitempty"`
	PageTitle string `json:"page_title,omitempty"`
}

// Typing says whether the sender is typing.
type Typing struct {
	Type string `json:"type"`
	On   bool   `json:"on"`
}

// Identify tells the relay who the visitor is (the page's own data, e.g.
// a signed-in customer's name): shown to agents, never trusted for access.
type Identify struct {
	Type   string            `json:"type"`
	Traits map[string]string `json:"traits"`
}

// Fingerprint sets the session fingerprint after hello (the wasm that
// computes it may load after the socket opened).
type Fingerprint struct {
	Type        string `json:"type"`
	Fingerprint string `json:"fingerprint"`
}

// Welcome answers hello. Token is present only when the relay issued a new
// one: the client must keep it and send it in its next hello. PingMS is
// how often the relay sends the heartbeat: a client that has heard
// nothing for 2.5 times that treats the connection as dead.
type Welcome struct {
	Type           string `json:"type"`
	Token          string `json:"token,omitempty"`
	ConversationID string `json:"conversation_id"`
	Seq            uint64 `json:"seq"`
	Resume         string `json:"resume"`
	Status         string `json:"status"`
	Handler        string `json:"handler"`
	HandlerName    string `json:"handler_name,omitempty"`
	PingMS         int64  `json:"ping_ms,omitempty"`
}

// Availability is the team's availability, pushed to open widgets when it
// changes (an agent signs in or out or goes away, the admin's away switch,
// business hours opening or closing). Its fields are the widget config's
// "availability" without the texts, which only change with the config.
type Availability struct {
	Type         string     `json:"type"`
	State        string     `json:"state"`
	Online       int        `json:"online"`
	ReplyMinutes int        `json:"reply_minutes,omitempty"`
	Until        *time.Time `json:"until,omitempty"`
	TimeZone     string     `json:"time_zone"`
}

// Message is a stored chat message as the relay sends it.
type Message struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	Seq            uint64 `json:"seq"`
	ID             string `json:"id,omitempty"`
	From           string `json:"from"`
	Author         string `json:"author,omitempty"`
	Text           string `json:"text"`
	TS             int64  `json:"ts"`
	Intent         string `json:"intent,omitempty"`
	Via            string `json:"via,omitempty"`
	Incomplete     bool   `json:"incomplete,omitempty"`
	StreamID       string `json:"stream_id,omitempty"`
	// Attachment is the file the message carries (its text is the file's
	// name); Rating the visitor's rating when From is "rating".
	Attachment *Attachment `json:"attachment,omitempty"`
	Rating     *Rating     `json:"rating,omitempty"`
	// PageURL and PageTitle: the page a visitor's message was written on
	// (origin and path; never a query or fragment).
	PageURL   string `json:"page_url,omitempty"`
	PageTitle string `json:"page_title,omitempty"`
}

// Attachment is a stored file as a message shows it. Its bytes are at
// /v1/conversations/{conversation}/attachments/{id} for the visitor
// (bearer token) and /v1/agent/conversations/{conversation}/attachments/{id}
// for agents; ?thumb=1 gives the thumbnail when Thumb is set.
type Attachment struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Size   int64  `json:"size"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
	Thumb  bool   `json:"thumb,omitempty"`
}

// Rating is a visitor's rating of a closed conversation.
type Rating struct {
	Score   int    `json:"score"`
	Comment string `json:"comment,omitempty"`
}

// Ack confirms a client message is durably stored as Seq.
type Ack struct {
	Type           string `json:"type"`
	ID             string `json:"id"`
	Seq            uint64 `json:"seq"`
	Duplicate      bool   `json:"duplicate,omitempty"`
	ConversationID string `json:"conversation_id,omitempty"`
	// Note is set on the agent socket when the id was an internal note's
	// (stored apart from the messages: no seq).
	Note bool `json:"note,omitempty"`
}

// TypingOut tells the other side of a conversation who is typing.
type TypingOut struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	From           string `json:"from"`
	Author         string `json:"author,omitempty"`
	AuthorID       string `json:"author_id,omitempty"`
	On             bool   `json:"on"`
	// Status, with from "bot", is TypingWorking when an answer paused
	// mid-way: clients show that the assistant is still working.
	Status string `json:"status,omitempty"`
}

// TypingWorking is the typing status of an AI answer that paused mid-way.
const TypingWorking = "working"

// Delta is a piece of an answer still being streamed.
type Delta struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	StreamID       string `json:"stream_id"`
	Index          int    `json:"index"`
	Text           string `json:"text"`
	Done           bool   `json:"done,omitempty"`
}

// Conversation tells clients who handles a conversation now. Agents also
// get the inbox fields (agent id, last seq, preview, …); visitors do not.
type Conversation struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	Status         string `json:"status"`
	Handler        string `json:"handler"`
	HandlerName    string `json:"handler_name,omitempty"`
	AgentID        string `json:"agent_id,omitempty"`
	VisitorID      string `json:"visitor_id,omitempty"`
	LastSeq        uint64 `json:"last_seq,omitempty"`
	Preview        string `json:"preview,omitempty"`
	Intent         string `json:"intent,omitempty"`
	UpdatedAt      int64  `json:"updated_at,omitempty"`
}

// ErrorFrame reports a problem with what the client sent. ID names the client
// message it concerns, when there is one.
type ErrorFrame struct {
	Type    string `json:"type"`
	Code    Code   `json:"code"`
	Message string `json:"message"`
	ID      string `json:"id,omitempty"`
	// On the agent socket: the conversation and the action that failed.
	ConversationID string `json:"conversation_id,omitempty"`
	Action         string `json:"action,omitempty"`
}
