// Package hub fans frames out to live WebSocket connections.
//
// Each Conn is written only by its own writer goroutine, through a bounded
// queue. Publishing never blocks: a connection whose queue is full is closed
// with 4008 and resumes later from its last seq, so one slow reader never
// delays anyone else.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Frame is one JSON text frame, encoded once however many connections get
// it. Conv and Seq are set on stored messages so a connection never sends
// the same seq twice (a replay and a live publish can overlap).
type Frame struct {
	Data []byte
	Conv string
	Seq  uint64
	ctl  *watchCtl // set on the hold/release markers of Watch
}

// watchCtl marks the start (hold) or end (release, with the replay) of a
// Watch in a connection's queue.
type watchCtl struct {
	release bool
	replay  []Frame
}

// NewFrame encodes v as a frame. Frames are built from the relay's own types,
// so an encoding error is a programming error and panics.
func NewFrame(v any) Frame {
	b, err := json.Marshal(v)
	if err != nil {
		panic("hub: encode frame: " + err.Error())
	}
	return Frame{Data: b}
}

// ConnOptions are the per-connection limits.
type ConnOptions struct {
	Queue        int           // frames waiting to be written; full → close 4008
	WriteTimeout time.Duration // one frame's write; exceeded → connection dropped
	PingInterval time.Duration // also the time a pong may take
	ReadLimit    int64         // largest frame read; bigger → close 1009
}

// Conn is one live WebSocket connection.
type Conn struct {
	ws   *websocket.Conn
	opts ConnOptions
	send chan Frame
	Kind string // "visitor" or "agent", for metrics and logs

	closeOnce sync.Once
	closing   chan struct{}
	closeCode websocket.StatusCode
	closeMsg  string
	done      chan struct{} // writer exited

	Endpoint

	// seqs is the newest seq written per conversation; only the writer
	// goroutine (or the owner before Start) touches it.
	seqs map[string]uint64
	// held buffers live frames of conversations being replayed by Watch;
	// writer goroutine only.
	held map[string][]Frame
	// stall bounds the write in progress; writer goroutine only.
	stall *time.Timer
}

// NewConn wraps an accepted WebSocket. Call Start once the replay (if any)
// has been written with WriteNow.
func NewConn(ws *websocket.Conn, kind string, opts ConnOptions) *Conn {
	ws.SetReadLimit(opts.ReadLimit)
	return &Conn{
		ws:      ws,
		opts:    opts,
		send:    make(chan Frame, opts.Queue),
		Kind:    kind,
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// Read returns the next text frame. A binary frame closes the connection
// with 1003, invalid UTF-8 with 1007, an oversized frame with 1009 (done by
// the websocket library).
func (c *Conn) Read(ctx context.Context) ([]byte, error) {
	typ, data, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		c.Close(protocol.CloseUnsupportedData, "binary frames are not accepted")
		return nil, errors.New("hub: binary frame")
	}
	if !utf8.Valid(data) {
		c.Close(protocol.CloseInvalidUTF8, "frame is not valid UTF-8")
		return nil, errors.New("hub: invalid UTF-8")
	}
	return data, nil
}

// WriteNow writes a frame directly. Only for the owner before Start (hello,
// welcome, replay), when no writer goroutine exists yet.
func (c *Conn) WriteNow(ctx context.Context, f Frame) error {
	if f.Seq > 0 {
		if f.Seq <= c.seqs[f.Conv] {
			return nil
		}
		c.noteSeq(f)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.WriteTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, f.Data)
}

func (c *Conn) noteSeq(f Frame) {
	if c.seqs == nil {
		c.seqs = make(map[string]uint64, 1)
	}
	c.seqs[f.Conv] = f.Seq
}

// Start runs the writer goroutine: frames from the queue, pings, and the
// close handshake.
func (c *Conn) Start() { go c.writeLoop() }

// Send queues a frame without blocking. A full queue closes the connection
// as too slow (4008) and reports false.
func (c *Conn) Send(f Frame) bool {
	select {
	case <-c.closing:
		return false
	default:
	}
	select {
	case c.send <- f:
		return true
	default:
		c.Close(protocol.CloseSlow, "too slow: send queue full")
		return false
	}
}

// Close asks the writer to close the connection with code and reason. It
// returns at once; the first call's code wins.
func (c *Conn) Close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeMsg = code, reason
		close(c.closing)
	})
}

// Closing is closed once Close was called.
func (c *Conn) Closing() <-chan struct{} { return c.closing }

// CloseCode is the code the relay closed with, or 0 if it did not close.
func (c *Conn) CloseCode() websocket.StatusCode {
	select {
	case <-c.closing:
		return c.closeCode
	default:
		return 0
	}
}

// Wait blocks until the writer goroutine has exited (after Start).
func (c *Conn) Wait() { <-c.done }

// Abort drops the connection without a close handshake.
func (c *Conn) Abort() { c.ws.CloseNow() }

// CloseBeforeStart closes with a code from any goroutine while no writer
// goroutine runs yet (during hello). It blocks for the close handshake.
func (c *Conn) CloseBeforeStart(code websocket.StatusCode, reason string) {
	c.Close(code, reason)
	c.ws.Close(code, reason)
}

// handle writes one queued frame, or applies a Watch marker. It reports
// false when the connection is gone.
func (c *Conn) handle(f Frame) bool {
	switch {
	case f.ctl != nil && !f.ctl.release:
		if c.held == nil {
			c.held = map[string][]Frame{}
		}
		c.held[f.Conv] = []Frame{}
		return true
	case f.ctl != nil:
		buffered := c.held[f.Conv]
		delete(c.held, f.Conv)
		for _, g := range append(f.ctl.replay, buffered...) {
			if !c.write(g) {
				return false
			}
		}
		return true
	}
	if buf, ok := c.held[f.Conv]; ok && f.Conv != "" {
		if len(buf) >= cap(c.send) {
			c.Close(protocol.CloseSlow, "too slow: send queue full")
			return true
		}
		c.held[f.Conv] = append(buf, f)
		return true
	}
	return c.write(f)
}

// write sends one frame unless its seq was already sent.
func (c *Conn) write(f Frame) bool {
	if f.Seq > 0 {
		if f.Seq <= c.seqs[f.Conv] {
			return true
		}
		c.noteSeq(f)
	}
	// One reusable timer bounds each write: a context with a timeout per
	// frame costs an allocation and a callback registration per write.
	c.stall.Reset(c.opts.WriteTimeout)
	err := c.ws.Write(context.Background(), websocket.MessageText, f.Data)
	c.stall.Stop()
	if err != nil {
		c.Close(protocol.CloseSlow, "too slow: write timed out")
		c.ws.CloseNow()
		return false
	}
	return true
}

func (c *Conn) writeLoop() {
	defer close(c.done)
	// A write still blocked when this fires is given up: closing the socket
	// unblocks it.
	c.stall = time.AfterFunc(time.Hour, func() {
		c.Close(protocol.CloseSlow, "too slow: write timed out")
		c.ws.CloseNow()
	})
	c.stall.Stop()
	defer c.stall.Stop()
	ping := time.NewTicker(c.opts.PingInterval)
	defer ping.Stop()
	pinging := false
	pong := make(chan error, 1)
	for {
		select {
		case f := <-c.send:
			if !c.handle(f) {
				return
			}
		case <-ping.C:
			// The previous ping must have been answered: a peer that misses a
			// whole interval is gone.
			if pinging {
				continue
			}
			pinging = true
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), c.opts.PingInterval)
				defer cancel()
				pong <- c.ws.Ping(ctx)
			}()
		case err := <-pong:
			pinging = false
			if err != nil {
				c.Close(protocol.CloseGoingAway, "no pong")
				c.ws.CloseNow()
				return
			}
		case <-c.closing:
			c.ws.Close(c.closeCode, c.closeMsg)
			return
		}
	}
}
