package chat

import (
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// Metrics counts the messages stored, by author kind (the relay's
// Prometheus metrics; nothing on the edge).
type Metrics interface {
	MessageStored(from string)
}

// Fanout publishes stored messages. Its OnAppend is the store's commit hook,
// so publishes happen in commit (and so seq) order.
type Fanout struct {
	Hub     *hub.Hub
	Metrics Metrics
	// Extra, when set, also receives every new message (agent inboxes).
	Extra func(a store.Appended)
	// Followed means stored messages reach the hub through Deliver, from
	// the stream every node of a cluster reads in order, not from
	// OnAppend, which sees only this node's appends: publishing those
	// early would put them ahead of other nodes' messages with lower seqs.
	Followed bool
}

// OnAppend publishes the new messages of an append. It never blocks.
func (f *Fanout) OnAppend(a store.Appended) {
	for i, m := range a.Messages {
		if a.Duplicate[i] {
			continue
		}
		f.Metrics.MessageStored(m.From)
		if !f.Followed {
			f.Hub.Publish(Topic(m.ConversationID), MessageFrame(m))
		}
	}
	if f.Extra != nil {
		f.Extra(a)
	}
}

// Deliver publishes a stored message read from the cluster's stream to
// this node's connections. Messages come in stream order, which is seq
// order within each conversation.
func (f *Fanout) Deliver(m store.Message) {
	f.Hub.PublishLocal(Topic(m.ConversationID), MessageFrame(m), nil)
}
