package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/protocol"
)

// helloTimeout bounds the wait for the welcome.
const helloTimeout = 10 * time.Second

// ErrGap means the relay skipped a seq; the client reconnects to resume.
var ErrGap = errors.New("client: gap in message seqs")

// run keeps a connection up until Close. The first attempt's outcome goes to
// first; later failures are retried with backoff.
func (c *Client) run(dialCtx context.Context, first chan<- error) {
	defer close(c.done)
	backoff := c.opts.MinBackoff
	reported := false
	for {
		err := c.session(dialCtx, func() {
			backoff = c.opts.MinBackoff
			if !reported {
				reported = true
				first <- nil
			}
		})
		if c.ctx.Err() != nil {
			if !reported {
				first <- ErrClosed
			}
			return
		}
		if !reported {
			first <- err
			return
		}
		if sleep(c.ctx, jitter(backoff)) != nil {
			return
		}
		backoff = min(backoff*2, c.opts.MaxBackoff)
		dialCtx = c.ctx
	}
}

// session runs one connection: dial, hello, welcome, then frames until it
// breaks. onReady runs once the welcome arrived.
func (c *Client) session(dialCtx context.Context, onReady func()) error {
	ctx, cancel := context.WithTimeout(dialCtx, helloTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, c.opts.URL, &websocket.DialOptions{HTTPHeader: c.opts.Header})
	if err != nil {
		if resp != nil {
			return fmt.Errorf("client: dial %s: %s: %w", c.opts.URL, resp.Status, err)
		}
		return fmt.Errorf("client: dial %s: %w", c.opts.URL, err)
	}
	conn.SetReadLimit(1 << 20)
	// Close (the user's) ends the socket with a proper close frame.
	stop := context.AfterFunc(c.ctx, func() { conn.Close(websocket.StatusNormalClosure, "") })
	defer stop()
	defer conn.CloseNow()

	c.mu.Lock()
	hello := protocol.Hello{Type: protocol.TypeHello, Token: c.token, ConversationID: c.convID, LastSeq: c.lastSeq, Fingerprint: c.opts.Fingerprint, Lang: c.opts.Lang}
	c.mu.Unlock()
	b, _ := json.Marshal(hello)
	if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("client: hello: %w", err)
	}
	w, err := readWelcome(ctx, conn)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if w.Token != "" {
		c.token = w.Token
	}
	if w.Resume != protocol.ResumeOK {
		c.lastSeq = 0
	}
	c.convID = w.ConversationID
	c.dials++
	c.mu.Unlock()
	if c.opts.OnWelcome != nil {
		c.opts.OnWelcome(w)
	}
	l := &link{conn: conn, gone: make(chan struct{})}
	c.setLink(l)
	defer func() {
		c.setLink(nil)
		close(l.gone)
	}()
	onReady()
	silence := deadAfter(w.PingMS)
	for {
		data, err := readWithin(conn, silence)
		if err != nil {
			return fmt.Errorf("client: read: %w", err)
		}
		if err := c.handle(data); err != nil {
			conn.Close(websocket.StatusPolicyViolation, "gap")
			return err
		}
	}
}

// deadAfter is how long a connection may stay silent before the client
// treats it as dead: 2.5 heartbeats, so one lost or late ping is not
// enough. Zero (a relay that sends no heartbeat) waits forever.
func deadAfter(pingMS int64) time.Duration {
	return time.Duration(pingMS) * time.Millisecond * 5 / 2
}

// readWithin reads the next frame, giving up after silence (when set): a
// relay that is frozen, or a path that silently died, sends nothing, and
// the kernel may not notice for many minutes. Giving up closes the socket
// (the websocket library does on a cancelled read); the client reconnects
// and resumes from its last seq.
func readWithin(conn *websocket.Conn, silence time.Duration) ([]byte, error) {
	ctx := context.Background()
	if silence > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, silence)
		defer cancel()
	}
	_, data, err := conn.Read(ctx)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("nothing heard for %v (the heartbeat is every %v): %w", silence, silence*2/5, err)
	}
	return data, err
}

func readWelcome(ctx context.Context, conn *websocket.Conn) (protocol.Welcome, error) {
	var w protocol.Welcome
	_, data, err := conn.Read(ctx)
	if err != nil {
		return w, fmt.Errorf("client: waiting for welcome: %w", err)
	}
	var head struct {
		Type    string        `json:"type"`
		Code    protocol.Code `json:"code"`
		Message string        `json:"message"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return w, fmt.Errorf("client: welcome: %w", err)
	}
	if head.Type == protocol.TypeError {
		return w, protocol.Errorf(head.Code, head.Message)
	}
	if head.Type != protocol.TypeWelcome {
		return w, fmt.Errorf("client: expected welcome, got %q", head.Type)
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return w, fmt.Errorf("client: welcome: %w", err)
	}
	return w, nil
}

// handle dispatches one server frame.
func (c *Client) handle(data []byte) error {
	var head struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return fmt.Errorf("client: bad frame from relay: %w", err)
	}
	switch head.Type {
	case protocol.TypeMessage:
		var m protocol.Message
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("client: bad message frame: %w", err)
		}
		c.mu.Lock()
		if m.Seq <= c.lastSeq {
			c.mu.Unlock()
			return nil
		}
		if m.Seq != c.lastSeq+1 {
			c.mu.Unlock()
			return fmt.Errorf("%w: got %d after %d", ErrGap, m.Seq, c.lastSeq)
		}
		c.lastSeq = m.Seq
		c.mu.Unlock()
		if c.opts.OnMessage != nil {
			c.opts.OnMessage(m)
		}
	case protocol.TypeAck:
		var a protocol.Ack
		if err := json.Unmarshal(data, &a); err != nil {
			return fmt.Errorf("client: bad ack frame: %w", err)
		}
		c.deliver(a.ID, result{ack: a})
	case protocol.TypeError:
		var e protocol.ErrorFrame
		if err := json.Unmarshal(data, &e); err != nil {
			return fmt.Errorf("client: bad error frame: %w", err)
		}
		if e.ID != "" && c.deliver(e.ID, result{err: protocol.Errorf(e.Code, e.Message)}) {
			return nil
		}
		if c.opts.OnFrame != nil {
			c.opts.OnFrame(head.Type, data)
		}
	case protocol.TypePing:
		// The heartbeat: hearing it is all it is for.
	default:
		if c.opts.OnFrame != nil {
			c.opts.OnFrame(head.Type, data)
		}
	}
	return nil
}

func (c *Client) deliver(id string, r result) bool {
	c.mu.Lock()
	ch := c.pending[id]
	c.mu.Unlock()
	if ch == nil {
		return false
	}
	select {
	case ch <- r:
	default:
	}
	return true
}
