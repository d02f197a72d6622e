package hub

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Subscriber is anything that takes frames from the hub: a WebSocket Conn,
// or a server-sent-events stream. Implementations embed Endpoint.
type Subscriber interface {
	// Send queues f without blocking; false means it was not taken.
	Send(f Frame) bool
	// Close ends the subscriber with a WebSocket close code.
	Close(code websocket.StatusCode, reason string)
	endpoint() *Endpoint
}

// Endpoint is the hub's bookkeeping inside a Subscriber.
type Endpoint struct {
	topics []string // guarded by the hub's lock
}

func (e *Endpoint) endpoint() *Endpoint { return e }

// Hub maps topics (conversation ids, inboxes) to the subscribers of them,
// and tracks every live subscriber for shutdown.
type Hub struct {
	mu sync.RWMutex
	// Most topics have one to three subscribers (a visitor's tabs, an agent
	// watching): a slice costs less than a map per conversation.
	topics map[string][]Subscriber
	conns  map[Subscriber]struct{}
	wg     sync.WaitGroup
	closed bool

	seenMu sync.Mutex
	seen   map[string]time.Time // topic → last plain-HTTP request (Seen)
	remote Remote               // nil on one node
}

// Remote carries published frames to the hubs of a cluster's other nodes,
// which publish them to their own subscribers (PublishLocal). Stored
// messages (frames with a Seq) are not forwarded: every node delivers
// those from the replicated stream, in seq order.
type Remote interface {
	// Forward sends f to the other nodes. It must not block.
	Forward(topic string, f Frame)
}

// New returns an empty hub.
func New() *Hub {
	return &Hub{topics: map[string][]Subscriber{}, conns: map[Subscriber]struct{}{}, seen: map[string]time.Time{}}
}

// seenMemory bounds how long Seen remembers a topic; SeenWithin asks for
// less.
const seenMemory = 10 * time.Minute

// Seen records that a client without a subscription (one that sends and
// polls over plain HTTP) was just served on topic: it is listening, even
// though it holds no connection.
func (h *Hub) Seen(topic string) {
	now := time.Now()
	h.seenMu.Lock()
	defer h.seenMu.Unlock()
	h.seen[topic] = now
	if len(h.seen) > 4096 { // forget the long gone, now and then
		for t, at := range h.seen {
			if now.Sub(at) > seenMemory {
				delete(h.seen, t)
			}
		}
	}
}

// Listening reports whether anyone may be reading topic: a subscriber
// (socket, SSE stream), or a plain-HTTP client Seen within grace.
func (h *Hub) Listening(topic string, grace time.Duration) bool {
	if h.Subscribers(topic) > 0 {
		return true
	}
	h.seenMu.Lock()
	defer h.seenMu.Unlock()
	at, ok := h.seen[topic]
	return ok && time.Since(at) < grace
}

// NewLinked returns an empty hub whose publishes also reach the other
// nodes of a cluster through r.
func NewLinked(r Remote) *Hub {
	h := New()
	h.remote = r
	return h
}

// Register tracks c until Deregister; false means the hub is shutting down
// and c must be refused.
func (h *Hub) Register(c Subscriber) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.conns[c] = struct{}{}
	h.wg.Add(1)
	return true
}

// Deregister drops c from every topic and from the live set.
func (h *Hub) Deregister(c Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.conns[c]; !ok {
		return
	}
	delete(h.conns, c)
	e := c.endpoint()
	for _, topic := range e.topics {
		h.unsubscribe(topic, c)
	}
	e.topics = nil
	h.wg.Done()
}

// Subscribe adds c to topic.
func (h *Hub) Subscribe(topic string, c Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	subs := h.topics[topic]
	if !slices.Contains(subs, c) {
		h.topics[topic] = append(subs, c)
		e := c.endpoint()
		e.topics = append(e.topics, topic)
	}
}

// Unsubscribe removes c from topic.
func (h *Hub) Unsubscribe(topic string, c Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unsubscribe(topic, c)
	e := c.endpoint()
	for i, t := range e.topics {
		if t == topic {
			e.topics = append(e.topics[:i], e.topics[i+1:]...)
			break
		}
	}
}

func (h *Hub) unsubscribe(topic string, c Subscriber) {
	subs := h.topics[topic]
	i := slices.Index(subs, c)
	if i < 0 {
		return
	}
	// In place: Publish iterates under the read lock, never during this.
	subs = slices.Delete(subs, i, i+1)
	if len(subs) == 0 {
		delete(h.topics, topic)
		return
	}
	h.topics[topic] = subs
}

// Publish queues f on every connection subscribed to topic, never blocking.
// It returns how many connections took it.
func (h *Hub) Publish(topic string, f Frame) int { return h.PublishExcept(topic, f, nil) }

// PublishExcept is Publish to everyone but except (the sender of a typing
// indicator, who does not need it back).
func (h *Hub) PublishExcept(topic string, f Frame, except Subscriber) int {
	if h.remote != nil && f.Seq == 0 && f.ctl == nil {
		h.remote.Forward(topic, f)
	}
	return h.PublishLocal(topic, f, except)
}

// PublishLocal queues f on this node's subscribers of topic but except,
// without forwarding it: for frames that came from another node, and for
// stored messages each node reads from the stream.
func (h *Hub) PublishLocal(topic string, f Frame, except Subscriber) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, c := range h.topics[topic] {
		if c != except && c.Send(f) {
			n++
		}
	}
	return n
}

// Watch subscribes a started connection to a conversation's topic and
// sends it the conversation's history from load, in order, with neither
// gaps nor duplicates however publishes interleave: live frames of conv
// are held back in c's writer from before the subscription until the
// replay has been written.
func (h *Hub) Watch(c *Conn, topic, conv string, load func() ([]Frame, error)) error {
	if !c.Send(Frame{Conv: conv, ctl: &watchCtl{}}) {
		return errors.New("hub: watch: connection closing")
	}
	h.Subscribe(topic, c)
	replay, err := load()
	if err != nil {
		replay = nil
	}
	c.Send(Frame{Conv: conv, ctl: &watchCtl{release: true, replay: replay}})
	return err
}

// Subscribers counts the connections subscribed to topic.
func (h *Hub) Subscribers(topic string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.topics[topic])
}

// Len counts live connections.
func (h *Hub) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns)
}

// Shutdown refuses new connections, closes every live one with code (1012
// tells clients to reconnect) and waits for them to be gone or ctx to end.
func (h *Hub) Shutdown(ctx context.Context, code websocket.StatusCode, reason string) error {
	h.mu.Lock()
	h.closed = true
	for c := range h.conns {
		c.Close(code, reason)
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		h.mu.RLock()
		for c := range h.conns {
			if a, ok := c.(interface{ Abort() }); ok {
				a.Abort()
			}
		}
		h.mu.RUnlock()
		return ctx.Err()
	}
}
