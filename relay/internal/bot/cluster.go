package bot

import (
	"context"
	"encoding/json"
	"time"

	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/protocol"
)

// How AI answers behave on several nodes (docs/cluster.md, "AI answers"):
// an answer streams from the node where the visitor's message arrived, and
// its deltas reach every node through the hub. Each node tells the others
// when an answer starts and ends in a conversation, so that
//   - a visitor's next message arriving on another node (another tab)
//     is answered after the current answer, by the node streaming it, as
//     on one node (one answer at a time per conversation);
//   - a person taking the conversation on another node stops it;
//   - a tab joining on another node gets the text so far;
//   - an answer is abandoned only when nobody listens on any node.
// Each node tells the others the tokens it spent, so the daily budget is
// the cluster's; --ai-max-concurrent stays per node.

// Peers are the flows on a cluster's other nodes.
type Peers interface {
	// ID is this node's id on the bus.
	ID() string
	// Publish tells every other node, at most once.
	Publish(kind string, v any)
	// Ask asks one node and decodes its reply into out; false if it did
	// not answer before ctx ended.
	Ask(ctx context.Context, node, kind string, v, out any) (bool, error)
	// Request asks every other node; the first reply wins.
	Request(ctx context.Context, kind string, v, out any) (bool, error)
}

// Bus event kinds.
const (
	kindStreaming = "ai.streaming" // an answer started or ended on a node
	kindAgain     = "ai.again"     // answer again after the current answer
	kindStop      = "ai.stop"      // a person took over: stop the answer
	kindSnapshot  = "ai.snapshot"  // the text so far, for a tab that joined
	kindListening = "ai.listening" // is anyone connected to the conversation?
	kindSpent     = "ai.spent"     // tokens spent on a node
)

// askTimeout bounds a question to the node streaming an answer; a node
// that does not answer in time (gone, frozen) is taken as not streaming.
const askTimeout = time.Second

// remoteStale forgets a node's answer after this long without news (the
// node died mid-answer): longer than any answer may stream.
const remoteStale = 5 * time.Minute

type convMsg struct {
	Conv string `json:"conv"`
}

type streamingMsg struct {
	Conv string `json:"conv"`
	Node string `json:"node"`
	On   bool   `json:"on"`
}

type takenMsg struct {
	Taken bool `json:"taken"`
}

type snapshotMsg struct {
	StreamID string `json:"stream_id"`
	Text     string `json:"text"`
}

type spentMsg struct {
	Day    string `json:"day"`
	Tokens int64  `json:"tokens"`
}

// remoteStream is an answer streaming on another node.
type remoteStream struct {
	node string
	at   time.Time
}

// elsewhereLocked returns the node streaming an answer in convID, or "".
func (f *Flow) elsewhereLocked(convID string) string {
	rs, ok := f.remote[convID]
	if !ok {
		return ""
	}
	if time.Since(rs.at) > remoteStale {
		delete(f.remote, convID)
		return ""
	}
	return rs.node
}

func (f *Flow) elsewhere(convID string) string {
	if f.opts.Peers == nil {
		return ""
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.elsewhereLocked(convID)
}

// announceStreaming tells the other nodes an answer started or ended here.
func (f *Flow) announceStreaming(convID string, on bool) {
	if p := f.opts.Peers; p != nil {
		p.Publish(kindStreaming, streamingMsg{Conv: convID, Node: p.ID(), On: on})
	}
}

// askAgain asks the node streaming in convID to answer again after its
// current answer; false if it did not take it.
func (f *Flow) askAgain(node, convID string) bool {
	ctx, cancel := context.WithTimeout(f.ctx, askTimeout)
	defer cancel()
	var rep takenMsg
	ok, err := f.opts.Peers.Ask(ctx, node, kindAgain, convMsg{Conv: convID}, &rep)
	if err != nil {
		f.log.Warn("bot: ask another node to answer again", "conversation", convID, "err", err)
	}
	return ok && rep.Taken
}

// stopElsewhere stops an answer streaming on another node and waits (a
// little) until it is stored.
func (f *Flow) stopElsewhere(convID string) {
	node := f.elsewhere(convID)
	if node == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopWait+askTimeout)
	defer cancel()
	if _, err := f.opts.Peers.Ask(ctx, node, kindStop, convMsg{Conv: convID}, nil); err != nil {
		f.log.Warn("bot: stop an answer on another node", "conversation", convID, "err", err)
	}
}

// snapshotElsewhere queues on sub the text so far of an answer streaming on
// another node.
func (f *Flow) snapshotElsewhere(sub hub.Subscriber, convID string) {
	node := f.elsewhere(convID)
	if node == "" {
		return
	}
	ctx, cancel := context.WithTimeout(f.ctx, askTimeout)
	defer cancel()
	var rep snapshotMsg
	if ok, _ := f.opts.Peers.Ask(ctx, node, kindSnapshot, convMsg{Conv: convID}, &rep); ok && rep.Text != "" {
		sub.Send(hub.DeltaFrame(protocol.Delta{Type: protocol.TypeDelta, ConversationID: convID, StreamID: rep.StreamID, Index: 0, Text: rep.Text}))
	}
}

// listenedElsewhere reports whether a connection on another node watches
// convID; it waits at most until ctx ends for an answer.
func (f *Flow) listenedElsewhere(ctx context.Context, convID string) bool {
	if f.opts.Peers == nil {
		return false
	}
	ok, _ := f.opts.Peers.Request(ctx, kindListening, convMsg{Conv: convID}, nil)
	return ok
}

// tellSpent tells the other nodes what this node's answers spent since it
// last said, so every node's daily budget counts the whole cluster's.
func (f *Flow) tellSpent() {
	if f.opts.Peers == nil || f.budget == nil {
		return
	}
	day, spent := f.budget.Spent()
	f.mu.Lock()
	delta := spent - f.spentSaid
	f.spentSaid = spent
	f.mu.Unlock()
	if delta > 0 {
		f.opts.Peers.Publish(kindSpent, spentMsg{Day: day, Tokens: delta})
	}
}

// PeerHandlers are the bus handlers of the flow's events, by kind.
func (f *Flow) PeerHandlers() map[string]func(data []byte, reply func(any)) {
	decode := func(kind string, data []byte, v any) bool {
		if err := json.Unmarshal(data, v); err != nil {
			f.log.Warn("bot: bad event from another node", "kind", kind, "err", err)
			return false
		}
		return true
	}
	return map[string]func([]byte, func(any)){
		kindStreaming: func(data []byte, _ func(any)) {
			var m streamingMsg
			if !decode(kindStreaming, data, &m) {
				return
			}
			f.mu.Lock()
			if m.On {
				f.remote[m.Conv] = remoteStream{node: m.Node, at: time.Now()}
			} else if f.remote[m.Conv].node == m.Node {
				delete(f.remote, m.Conv)
			}
			f.mu.Unlock()
		},
		kindAgain: func(data []byte, reply func(any)) {
			var m convMsg
			if !decode(kindAgain, data, &m) {
				return
			}
			f.mu.Lock()
			st := f.active[m.Conv]
			taken := st != nil && !st.stopped
			if taken {
				st.pending = true
			}
			f.mu.Unlock()
			reply(takenMsg{Taken: taken})
		},
		kindStop: func(data []byte, reply func(any)) {
			var m convMsg
			if !decode(kindStop, data, &m) {
				return
			}
			go func() { f.stopLocal(m.Conv); reply(struct{}{}) }()
		},
		kindSnapshot: func(data []byte, reply func(any)) {
			var m convMsg
			if !decode(kindSnapshot, data, &m) {
				return
			}
			f.mu.Lock()
			st := f.active[m.Conv]
			f.mu.Unlock()
			if st == nil {
				return
			}
			st.mu.Lock()
			rep := snapshotMsg{StreamID: st.id, Text: st.text.String()}
			st.mu.Unlock()
			reply(rep)
		},
		kindListening: func(data []byte, reply func(any)) {
			var m convMsg
			if decode(kindListening, data, &m) && f.hub.Listening(chat.Topic(m.Conv), f.opts.PollGrace) {
				reply(struct{}{})
			}
		},
		kindSpent: func(data []byte, _ func(any)) {
			var m spentMsg
			if decode(kindSpent, data, &m) && f.budget != nil {
				f.budget.Add(m.Day, m.Tokens)
			}
		},
	}
}
