package chat

import (
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/metrics"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// Fanout publishes stored messages. Its OnAppend is the store's commit hook,
// so publishes happen in commit (and so seq) order.
type Fanout struct {
	Hub     *hub.Hub
	Metrics *metrics.Metrics
	// Extra, when set, also receives every new message (agent inboxes).
	Extra func(a store.Appended)
}

// OnAppend publishes the new messages of an append. It never blocks.
func (f *Fanout) OnAppend(a store.Appended) {
	for i, m := range a.Messages {
		if a.Duplicate[i] {
			continue
		}
		f.Metrics.Messages.WithLabelValues(m.From).Inc()
		f.Hub.Publish(Topic(m.ConversationID), MessageFrame(m))
	}
	if f.Extra != nil {
		f.Extra(a)
	}
}
