// Package client is a Go client for Kefu's visitor WebSocket: it says hello
// and resumes from its last seq, sends messages and retries them until the
// relay acknowledges them, reconnects with backoff and jitter (also when
// the relay's heartbeat stops: a frozen relay or a dead path), and hands
// each stored message to the caller exactly once, in seq order.
package client

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Options configure a Client.
type Options struct {
	// URL of the socket, e.g. ws://127.0.0.1:8020/v1/ws.
	URL string
	// Resume state from an earlier session; empty starts a new visitor.
	Token          string
	ConversationID string
	LastSeq        uint64
	Fingerprint    string
	// Lang is the language the client speaks ("de"): the relay's own
	// messages to it use it. Empty: English, or a guess from its words.
	Lang string
	// Header is sent with every upgrade (Origin, Cookie).
	Header http.Header
	// MinBackoff and MaxBackoff bound the reconnect delay (defaults 100ms, 5s).
	MinBackoff, MaxBackoff time.Duration
	// OnMessage receives each stored message once, in seq order. It runs on
	// the client's reader goroutine.
	OnMessage func(protocol.Message)
	// OnFrame receives every other server frame (typing, delta,
	// conversation, error without an id) as raw JSON.
	OnFrame func(typ string, raw []byte)
	// OnWelcome sees each welcome, after a reset has cleared local state.
	OnWelcome func(protocol.Welcome)
}

// ErrClosed is returned once Close was called.
var ErrClosed = errors.New("client: closed")

// Client is a visitor connection that survives disconnects.
type Client struct {
	opts Options

	mu      sync.Mutex
	cur     *link         // nil while disconnected
	changed chan struct{} // closed and replaced whenever cur changes
	token   string
	convID  string
	lastSeq uint64
	pending map[string]chan result
	dials   int

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// link is one connection, past hello.
type link struct {
	conn *websocket.Conn
	gone chan struct{} // closed when the connection ends
}

type result struct {
	ack protocol.Ack
	err *protocol.Error
}

// Dial connects, says hello and returns once the welcome arrived. The
// client keeps reconnecting in the background until Close.
func Dial(ctx context.Context, opts Options) (*Client, error) {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	c := &Client{
		opts: opts, token: opts.Token, convID: opts.ConversationID, lastSeq: opts.LastSeq,
		pending: map[string]chan result{}, changed: make(chan struct{}), done: make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	first := make(chan error, 1)
	go c.run(ctx, first)
	if err := <-first; err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// State is what a later Dial needs to resume.
func (c *Client) State() (token, conversationID string, lastSeq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token, c.convID, c.lastSeq
}

// Dials counts successful connections (1 + reconnects).
func (c *Client) Dials() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dials
}

// Close ends the session for good, with close code 1000.
func (c *Client) Close() error {
	c.cancel()
	<-c.done
	return nil
}

// NewID returns a random client message id.
func NewID() string { return rand.Text() }

// Send stores text as a new message and returns its ack.
func (c *Client) Send(ctx context.Context, text string) (protocol.Ack, error) {
	return c.SendID(ctx, NewID(), text)
}

// SendID sends a message with the caller's id, resending it (same id, so it
// is stored once) across disconnects and after transient refusals until the
// relay acknowledges it, a permanent error comes back, or ctx ends.
func (c *Client) SendID(ctx context.Context, id, text string) (protocol.Ack, error) {
	frame, err := json.Marshal(protocol.Send{Type: protocol.TypeMessage, ID: id, Text: text})
	if err != nil {
		return protocol.Ack{}, fmt.Errorf("client: encode: %w", err)
	}
	backoff := c.opts.MinBackoff
	for {
		l, err := c.waitLink(ctx)
		if err != nil {
			return protocol.Ack{}, err
		}
		ch := make(chan result, 1)
		c.mu.Lock()
		c.pending[id] = ch
		c.mu.Unlock()
		var res result
		werr := l.conn.Write(ctx, websocket.MessageText, frame)
		if werr == nil {
			select {
			case res = <-ch:
			case <-l.gone:
				werr = errors.New("disconnected before the ack")
			case <-ctx.Done():
			}
		}
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		if ctx.Err() != nil {
			return protocol.Ack{}, ctx.Err()
		}
		if werr == nil && res.err == nil {
			return res.ack, nil
		}
		if res.err != nil && !retryable(res.err.Code) {
			return protocol.Ack{}, res.err
		}
		// Disconnected, refused for now, or a failed write: wait and resend.
		if err := sleep(ctx, jitter(backoff)); err != nil {
			return protocol.Ack{}, err
		}
		backoff = min(backoff*2, c.opts.MaxBackoff)
	}
}

// Typing tells the other side whether the visitor is typing.
func (c *Client) Typing(ctx context.Context, on bool) error {
	l, err := c.waitLink(ctx)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(protocol.Typing{Type: protocol.TypeTyping, On: on})
	return l.conn.Write(ctx, websocket.MessageText, b)
}

// WriteRaw sends an arbitrary text frame, for tests of the relay's decoder.
func (c *Client) WriteRaw(ctx context.Context, data []byte) error {
	l, err := c.waitLink(ctx)
	if err != nil {
		return err
	}
	return l.conn.Write(ctx, websocket.MessageText, data)
}

func retryable(code protocol.Code) bool {
	switch code {
	case protocol.CodeRateLimited, protocol.CodeStorage, protocol.CodeShuttingDown, protocol.CodeSlowConsumer, protocol.CodeInternal:
		return true
	}
	return false
}

// waitLink returns the live connection, waiting for a reconnect if needed.
func (c *Client) waitLink(ctx context.Context) (*link, error) {
	for {
		c.mu.Lock()
		l, changed := c.cur, c.changed
		c.mu.Unlock()
		if l != nil {
			return l, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.ctx.Done():
			return nil, ErrClosed
		}
	}
}

func (c *Client) setLink(l *link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur = l
	close(c.changed)
	c.changed = make(chan struct{})
}

func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
