package assign

import (
	"sort"
	"time"

	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Summary is a conversation's inbox entry.
func (r *Router) Summary(c store.Conversation) protocol.Conversation {
	return protocol.Conversation{
		Type: protocol.TypeConversation, ConversationID: c.ID, Status: c.Status, Handler: c.Handler,
		HandlerName: r.Name(c.AgentID), AgentID: c.AgentID, VisitorID: c.VisitorID, LastSeq: c.LastSeq,
		Preview: c.Preview, Intent: c.Intent, UpdatedAt: c.UpdatedAt.UnixMilli(),
	}
}

// publishInbox tells every console about a conversation.
func (r *Router) publishInbox(c store.Conversation) {
	f := hub.NewFrame(r.Summary(c))
	f.Conv = c.ID
	r.hub.Publish(InboxTopic, f)
}

// publishAgents tells this node's consoles the agents' presence and load.
// Each node of a cluster tells its own, from its own (replicated) view.
func (r *Router) publishAgents() {
	r.mu.Lock()
	list := r.agentsLocked()
	r.mu.Unlock()
	r.hub.PublishLocal(InboxTopic, hub.NewFrame(protocol.Agents{Type: protocol.TypeAgents, Agents: list}), nil)
	if r.OnPresence != nil {
		r.OnPresence()
	}
}

// OnAppend keeps consoles' inboxes current on every stored message. It is
// the fan-out's extra hook and runs on the store's writer, so it only
// notes the change: one summary per message to every console would
// multiply the traffic by the number of agents. Run's ticker sends what
// changed as one inbox frame (state changes go out at once, see
// publishInbox).
func (r *Router) OnAppend(a store.Appended) {
	r.dirtyMu.Lock()
	if r.dirty == nil {
		r.dirty = map[string]store.Conversation{}
	}
	r.dirty[a.Conversation.ID] = a.Conversation
	r.dirtyMu.Unlock()
}

// InboxEvery is how often message activity reaches the consoles' inboxes.
const InboxEvery = 250 * time.Millisecond

// flushInbox sends the conversations that changed since the last flush
// as one frame.
func (r *Router) flushInbox() {
	r.dirtyMu.Lock()
	dirty := r.dirty
	r.dirty = nil
	r.dirtyMu.Unlock()
	if len(dirty) == 0 {
		return
	}
	out := protocol.Inbox{Type: protocol.TypeInbox, Conversations: make([]protocol.Conversation, 0, len(dirty))}
	for _, c := range dirty {
		out.Conversations = append(out.Conversations, r.Summary(c))
	}
	sort.Slice(out.Conversations, func(i, j int) bool { return out.Conversations[i].UpdatedAt < out.Conversations[j].UpdatedAt })
	r.hub.Publish(InboxTopic, hub.NewFrame(out))
}
