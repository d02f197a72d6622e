package protocol

// Agent socket frames (GET /v1/agent/ws); docs/console.md describes them.
const (
	TypeWatch    = "watch"
	TypeUnwatch  = "unwatch"
	TypeTake     = "take"
	TypeTransfer = "transfer"
	TypeClose    = "close"
	TypePresence = "presence"
	TypeAgents   = "agents"
	TypeInbox    = "inbox"
	// TypeNote is an internal note: sent by an agent, to agents only.
	TypeNote = "note"
)

// Presence statuses.
const (
	StatusOnline  = "online"
	StatusAway    = "away"
	StatusOffline = "offline"
)

// AgentHello opens an agent session. Status (online or away; default
// online) is the agent's presence from the first moment, so a chat is not
// routed to someone who chose away before they could say so again.
// Positions are the last seqs the console holds per conversation: the
// relay replays assigned conversations from there, not from the start.
type AgentHello struct {
	Type      string            `json:"type"`
	Status    string            `json:"status,omitempty"`
	Positions map[string]uint64 `json:"positions,omitempty"`
}

// MaxPositions bounds AgentHello.Positions.
const MaxPositions = 1000

// Watch asks for a conversation's messages after LastSeq, then live ones.
type Watch struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	LastSeq        uint64 `json:"last_seq"`
}

// ConvRef names a conversation: unwatch, take, close.
type ConvRef struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
}

// AgentSend is an agent's reply.
type AgentSend struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	ID             string `json:"id"`
	Text           string `json:"text"`
}

// AgentNote is an internal note an agent writes on a conversation: kept
// for agents, never sent to the visitor. ID is the client's id for it.
type AgentNote struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	ID             string `json:"id"`
	Text           string `json:"text"`
}

// Note is a stored internal note as agents receive it: on the
// conversation's notes when they watch it, and live to every console
// watching. AfterSeq places it after that message.
type Note struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	ID             string `json:"id"`
	ClientID       string `json:"client_id,omitempty"`
	AuthorID       string `json:"author_id,omitempty"`
	Author         string `json:"author,omitempty"`
	Text           string `json:"text"`
	TS             int64  `json:"ts"`
	AfterSeq       uint64 `json:"after_seq"`
}

// AgentTyping says whether the agent is typing in a conversation.
type AgentTyping struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	On             bool   `json:"on"`
}

// Transfer hands a conversation to another agent (their id) or "queue".
type Transfer struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	To             string `json:"to"`
}

// Presence sets the agent's status: online or away.
type Presence struct {
	Type   string `json:"type"`
	Status string `json:"status"`
}

// AgentInfo is a colleague as the console shows them.
type AgentInfo struct {
	ID       string `json:"id"`
	Username string `json:"username,omitempty"`
	Name     string `json:"name"`
	Role     string `json:"role,omitempty"`
	Status   string `json:"status"`
	Load     int    `json:"load"`
	Capacity int    `json:"capacity"`
}

// AgentWelcome answers an agent's hello.
type AgentWelcome struct {
	Type          string         `json:"type"`
	Agent         AgentInfo      `json:"agent"`
	Agents        []AgentInfo    `json:"agents"`
	Conversations []Conversation `json:"conversations"`
	PingMS        int64          `json:"ping_ms,omitempty"` // as in Welcome
}

// Inbox updates several inbox entries at once: the conversations that had
// new messages in the last quarter second.
type Inbox struct {
	Type          string         `json:"type"`
	Conversations []Conversation `json:"conversations"`
}

// Agents lists colleagues with presence and load.
type Agents struct {
	Type   string      `json:"type"`
	Agents []AgentInfo `json:"agents"`
}

// Watching starts the replay of a watched conversation: messages from
// FromSeq+1 to Seq follow (FromSeq may be above the asked last_seq when the
// history was too long to replay: fetch the rest over HTTP).
type Watching struct {
	Type           string            `json:"type"`
	ConversationID string            `json:"conversation_id"`
	FromSeq        uint64            `json:"from_seq"`
	Seq            uint64            `json:"seq"`
	VisitorID      string            `json:"visitor_id"`
	Traits         map[string]string `json:"traits,omitempty"` // what the page told about the visitor (identify)
	Lang           string            `json:"lang,omitempty"`   // the language the visitor's widget speaks ("de")
	// Contact is the email (and name) the visitor left to be reached when
	// nobody could answer; absent when none (or they unsubscribed).
	Contact *Contact `json:"contact,omitempty"`
}

// Contact is how a visitor asked to be reached.
type Contact struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}
