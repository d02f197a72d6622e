package cluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/nats-io/nats.go"
)

// Bus carries live events between the nodes over core NATS: at most once,
// in order from any one node, never back to the node that sent them. Each
// kind of event has its own subject (prefix.ev.KIND) and handler; a node
// can also be asked directly (prefix.node.ID.KIND), and any event can be a
// request that handlers may answer.
type Bus struct {
	nc     *nats.Conn
	prefix string
	id     string
	log    *slog.Logger

	mu   sync.Mutex
	subs []*nats.Subscription
}

// NewBus returns the bus on the node's events connection.
func NewBus(n *Node, prefix string, log *slog.Logger) *Bus {
	return &Bus{nc: n.Events, prefix: prefix, id: n.ID, log: log}
}

// ID is this node's address on the bus (Node.ID).
func (b *Bus) ID() string { return b.id }

func (b *Bus) all(kind string) string        { return b.prefix + ".ev." + kind }
func (b *Bus) direct(id, kind string) string { return b.prefix + ".node." + id + "." + kind }

// Publish sends v to every other node's handler of kind. It does not
// block on the network; an error (a value that cannot be encoded, a
// closed connection) is logged: live events are best effort by design.
func (b *Bus) Publish(kind string, v any) { b.publish(b.all(kind), kind, v) }

// Send sends v to one node's handler of kind.
func (b *Bus) Send(id, kind string, v any) { b.publish(b.direct(id, kind), kind, v) }

func (b *Bus) publish(subject, kind string, v any) {
	data, err := json.Marshal(v)
	if err == nil {
		err = b.nc.Publish(subject, data)
	}
	if err != nil {
		b.log.Warn("cluster: event not sent", "kind", kind, "err", err)
	}
}

// Request sends v to every other node's handler of kind and decodes the
// first reply into out. It reports false when nobody answered before ctx
// ended (handlers answer only when they have something to say).
func (b *Bus) Request(ctx context.Context, kind string, v, out any) (bool, error) {
	return b.request(ctx, b.all(kind), v, out)
}

// Ask is Request to one node.
func (b *Bus) Ask(ctx context.Context, id, kind string, v, out any) (bool, error) {
	return b.request(ctx, b.direct(id, kind), v, out)
}

func (b *Bus) request(ctx context.Context, subject string, v, out any) (bool, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return false, fmt.Errorf("cluster: request %s: %w", subject, err)
	}
	msg, err := b.nc.RequestWithContext(ctx, subject, data)
	switch {
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("cluster: request %s: %w", subject, err)
	}
	if out != nil {
		if err := json.Unmarshal(msg.Data, out); err != nil {
			return false, fmt.Errorf("cluster: reply to %s: %w", subject, err)
		}
	}
	return true, nil
}

// Handler takes one event. reply answers a request (the value is sent as
// JSON; it may be called later, from another goroutine) and does nothing
// for a plain event. Handlers of one kind run one at a time, in arrival
// order; a handler that may block hands its work to a goroutine.
type Handler func(data []byte, reply func(v any))

// Handle subscribes h to kind, for events to every node and to this one.
func (b *Bus) Handle(kind string, h Handler) error {
	cb := func(m *nats.Msg) {
		reply := func(any) {}
		if m.Reply != "" {
			reply = func(v any) {
				data, err := json.Marshal(v)
				if err == nil {
					err = m.Respond(data)
				}
				if err != nil {
					b.log.Debug("cluster: reply not sent", "kind", kind, "err", err)
				}
			}
		}
		h(m.Data, reply)
	}
	for _, subj := range []string{b.all(kind), b.direct(b.id, kind)} {
		sub, err := b.nc.Subscribe(subj, cb)
		if err != nil {
			return fmt.Errorf("cluster: subscribe %s: %w", subj, err)
		}
		sub.SetPendingLimits(64*1024, 64<<20)
		b.mu.Lock()
		b.subs = append(b.subs, sub)
		b.mu.Unlock()
	}
	return nil
}

// Close unsubscribes every handler.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.subs {
		s.Unsubscribe()
	}
	b.subs = nil
}

// HubLink carries hub frames between the nodes: what one node's hub
// publishes (typing, AI deltas, inbox and presence updates) reaches the
// subscribers on every node. Stored messages do not go this way (each
// node reads them from the stream, in seq order).
type HubLink struct {
	nc      *nats.Conn
	subject string // prefix.hub.
	log     *slog.Logger
	sub     *nats.Subscription
}

// NewHubLink returns the link on the node's events connection; Start
// delivers what other nodes send to a hub.
func NewHubLink(n *Node, prefix string, log *slog.Logger) *HubLink {
	return &HubLink{nc: n.Events, subject: prefix + ".hub.", log: log}
}

// Forward implements hub.Remote.
func (l *HubLink) Forward(topic string, f hub.Frame) {
	if topic == "" || strings.ContainsAny(topic, ". *>\t\r\n") {
		l.log.Error("cluster: hub topic cannot be a subject token; not forwarded", "topic", topic)
		return
	}
	if err := l.nc.Publish(l.subject+topic, encodeFrame(f)); err != nil {
		l.log.Debug("cluster: frame not forwarded", "topic", topic, "err", err)
	}
}

// Start publishes the frames other nodes forward on h, locally.
func (l *HubLink) Start(h *hub.Hub) error {
	sub, err := l.nc.Subscribe(l.subject+">", func(m *nats.Msg) {
		f, err := decodeFrame(m.Data)
		if err != nil {
			l.log.Warn("cluster: bad hub frame from another node", "subject", m.Subject, "err", err)
			return
		}
		h.PublishLocal(strings.TrimPrefix(m.Subject, l.subject), f, nil)
	})
	if err != nil {
		return fmt.Errorf("cluster: subscribe to hub frames: %w", err)
	}
	// Frames are small and many (AI deltas); a node that falls this far
	// behind drops them rather than grow without bound: its subscribers
	// lose live extras, never stored messages.
	sub.SetPendingLimits(1<<20, 256<<20)
	l.sub = sub
	return nil
}

// Close stops delivering.
func (l *HubLink) Close() {
	if l.sub != nil {
		l.sub.Unsubscribe()
	}
}

// A forwarded frame: one flags byte (1: a streamed answer's delta), the
// conversation id with a two-byte length, then the frame's JSON.
func encodeFrame(f hub.Frame) []byte {
	b := make([]byte, 0, 3+len(f.Conv)+len(f.Data))
	var flags byte
	if f.Delta != nil {
		flags = 1
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(len(f.Conv)))
	b = append(b, f.Conv...)
	return append(b, f.Data...)
}

func decodeFrame(b []byte) (hub.Frame, error) {
	if len(b) < 3 {
		return hub.Frame{}, errors.New("short frame")
	}
	n := int(binary.BigEndian.Uint16(b[1:3]))
	if len(b) < 3+n {
		return hub.Frame{}, errors.New("short frame")
	}
	f := hub.Frame{Conv: string(b[3 : 3+n]), Data: b[3+n:]}
	if b[0]&1 != 0 {
		var d protocol.Delta
		if err := json.Unmarshal(f.Data, &d); err != nil {
			return hub.Frame{}, fmt.Errorf("delta: %w", err)
		}
		f.Delta = &d
	}
	return f, nil
}
