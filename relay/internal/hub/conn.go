// Package hub fans frames out to live WebSocket connections.
//
// Each Conn is written by one writer at a time, through a bounded queue.
// Publishing never blocks: a connection whose queue is full is closed with
// 4008 and resumes later from its last seq, so one slow reader never
// delays anyone else. An idle connection costs no goroutine and no queue
// memory: a writer goroutine exists only while frames wait.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
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
	// Delta, on a streamed answer's piece, lets a connection that fell
	// behind merge consecutive pieces of one stream into one frame.
	Delta *protocol.Delta
	// Stream marks another frame of a streamed answer (its typing
	// indicator): Send writes it itself when it can, as it does a delta.
	Stream bool
	ctl    *watchCtl // set on the hold/release markers of Watch
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

// DeltaFrame is the frame of a streamed answer's piece, tagged with its
// conversation (a Watch replay holds it) and mergeable.
func DeltaFrame(d protocol.Delta) Frame {
	size := 96 + len(d.ConversationID) + len(d.StreamID) + len(d.Text) + len(d.Text)/8
	return Frame{Data: appendDelta(make([]byte, 0, size), &d), Conv: d.ConversationID, Delta: &d}
}

// ConnOptions are the per-connection limits.
type ConnOptions struct {
	Queue        int           // frames waiting to be written; full → close 4008
	WriteTimeout time.Duration // one frame's write; exceeded → connection dropped
	PingInterval time.Duration // also the time a pong may take
	ReadLimit    int64         // largest frame read; bigger → close 1009
	// Window bounds the bytes written that the peer has not acknowledged
	// (0: DefaultWindow). Kernel buffers take megabytes from a peer that
	// does not read, so a write alone never times out: past half the
	// window the writer pings, past the window it waits for the pong, and
	// a pong that has not come within WriteTimeout closes with 4008.
	Window int64
}

// DefaultWindow is the bytes in flight a connection may have: enough for
// a burst of chat frames at any latency, small enough that a stalled
// reader is noticed as soon as a few dozen messages wait for it.
const DefaultWindow = 64 << 10

// pingJSON is the application-level heartbeat (docs/protocol.md): what a
// browser, which cannot see WebSocket pings, watches to notice a dead path.
const pingJSON = `{"type":"` + protocol.TypePing + `"}`

// pingData is pingJSON as a frame's bytes, made once: frames' data is
// never written to after it is queued.
var pingData = []byte(pingJSON)

// spareCap is the largest drained queue a connection keeps for reuse;
// bigger ones (a burst) go back to the garbage collector.
const spareCap = 64

// Conn is one live WebSocket connection.
type Conn struct {
	Endpoint
	ws   *websocket.Conn
	out  *batchConn // the socket under ws, when made by Accept; nil otherwise
	opts ConnOptions
	Kind string // "visitor" or "agent", for metrics and logs

	mu       sync.Mutex
	queue    []Frame // waiting to be written
	spare    []Frame // a drained queue kept for reuse
	started  bool    // Start was called: Send may start a writer
	draining bool    // a writer goroutine is running
	kicked   bool    // it was started but has not run yet: a delta or a Release may take its place (writableNow)
	holds    int     // Hold calls not yet Released: queued frames wait for a writer

	closeOnce sync.Once
	closing   chan struct{}
	closeCode websocket.StatusCode
	closeMsg  string
	done      chan struct{} // closed once the socket is closed

	ping *time.Timer // guarded by mu

	// The time the owner spent in Read, which is the only place a pong is
	// taken in: a pong is awaited for a span of reading time, so an owner
	// held up elsewhere (an append waiting for a slow disk) does not make
	// a healthy peer look dead. readStart is when the Read in progress
	// began (Unix ns, 0 when none); readTotal sums the Reads before it.
	readStart, readTotal atomic.Int64
	pinging              atomic.Bool // a keepalive ping awaits its pong

	// Writer state, touched by one writer at a time (the owner before
	// Start, then the drain goroutines, one after another under mu).
	seqs    map[string]uint64  // newest seq written per conversation
	held    map[string][]Frame // live frames held while Watch replays
	stall   *time.Timer        // bounds the write in progress
	written int64              // bytes written since Start
	probe   *probe             // the ping in flight, nil when none
	acked   int64              // bytes the last answered probe confirmed
}

// probe is a WebSocket ping sent after mark bytes: its pong proves the
// peer has read them.
type probe struct {
	mark int64
	done chan struct{} // closed when the pong came (or the probe failed)
	ok   bool          // set before done is closed
}

// NewConn wraps an accepted WebSocket. Call Start once the replay (if any)
// has been written with WriteNow.
func NewConn(ws *websocket.Conn, kind string, opts ConnOptions) *Conn {
	ws.SetReadLimit(opts.ReadLimit)
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	return &Conn{ws: ws, opts: opts, Kind: kind, closing: make(chan struct{}), done: make(chan struct{})}
}

// Read returns the next text frame. A binary frame closes the connection
// with 1003, invalid UTF-8 with 1007, an oversized frame with 1009 (done by
// the websocket library).
func (c *Conn) Read(ctx context.Context) ([]byte, error) {
	start := time.Now().UnixNano()
	c.readStart.Store(start)
	typ, data, err := c.ws.Read(ctx)
	// Cleared first: a reading-time sum taken between the two stores
	// falls short (a pong awaited a little longer), never over.
	c.readStart.Store(0)
	c.readTotal.Add(time.Now().UnixNano() - start)
	if err != nil {
		if errors.Is(err, websocket.ErrMessageTooBig) {
			// The library has sent the close frame; record the code.
			c.Close(protocol.CloseTooBig, "frame too big")
		}
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
// welcome, replay), when no writer runs yet.
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

// Start lets queued and future frames be written, and starts the pings.
func (c *Conn) Start() {
	c.stall = time.AfterFunc(time.Hour, func() {
		// A write still blocked when this fires is given up: closing the
		// socket unblocks it.
		c.Close(protocol.CloseSlow, "too slow: write timed out")
		c.ws.CloseNow()
	})
	c.stall.Stop()
	c.mu.Lock()
	c.ping = time.AfterFunc(c.opts.PingInterval, c.pingOnce)
	c.started = true
	c.kickLocked()
	c.mu.Unlock()
}

// Send queues a frame without blocking. A full queue closes the connection
// as too slow (4008) and reports false.
func (c *Conn) Send(f Frame) bool {
	c.mu.Lock()
	select {
	case <-c.closing:
		c.mu.Unlock()
		return false
	default:
	}
	inline := c.started && (f.Delta != nil || f.Stream) && f.ctl == nil && c.writableNow(len(f.Data))
	if !c.queueLocked(f) {
		c.mu.Unlock()
		c.Close(protocol.CloseSlow, "too slow: send queue full")
		return false
	}
	if inline && c.out.tryHold() {
		// A streamed answer's frame: this goroutine is the writer, for
		// the frames waiting, if any, and f after them (draining keeps
		// any other out). Those frames only: they come one at a time
		// per stream, tens of milliseconds apart, so a writer goroutine
		// never finds a second one to send with it, while a burst of
		// chat frames does (one write(2) for the lot) and keeps its
		// writer.
		c.writeNowLocked(c.queue)
		return true
	}
	c.kickLocked()
	c.mu.Unlock()
	return true
}

// queueLocked appends f to the queue, or reports false when the queue is
// full. Called under mu.
func (c *Conn) queueLocked(f Frame) bool {
	if len(c.queue) >= c.opts.Queue {
		return false
	}
	if c.queue == nil {
		c.queue, c.spare = c.spare, nil
	}
	c.queue = append(c.queue, f)
	return true
}

// inlineMax is the most a goroutine writes itself instead of a writer
// goroutine: a held socket keeps at most batchMax, and a streamed word, a
// message's copy and its ack are far smaller.
const inlineMax = 16 << 10

// writableNow reports whether the calling goroutine may write the frames
// waiting and extra bytes more itself, into the held socket with one
// non-blocking write(2) (writeNowLocked): when no writer runs and nothing
// waits, or nothing but a Hold's frames, now released; or when the writer
// goroutine started for them has not run yet (kicked). Their writer may
// wait milliseconds for a processor on a busy relay, and an answer's
// first piece, which comes right after its question's copy, ack and
// typing indicator, would wait with it. Not for Watch markers, nor past
// inlineMax or the window: no such write may wait. Called under mu with
// no writer running, so the writer state is stable.
func (c *Conn) writableNow(extra int) bool {
	switch {
	case c.out == nil:
		return false
	case !c.draining && len(c.queue) == 0:
	case !c.draining && c.holds > 0, c.draining && !c.kicked:
		return false
	}
	n := int64(extra)
	for _, q := range c.queue {
		if q.ctl != nil {
			return false
		}
		n += int64(len(q.Data))
	}
	return n <= inlineMax && c.written-c.acked+n < c.opts.Window
}

// writeNowLocked makes the calling goroutine the writer of frames (the
// queue taken whole, and what it adds) and writes them (sendInline).
// Called under mu once writableNow and tryHold said yes; returns with mu
// unlocked.
func (c *Conn) writeNowLocked(frames []Frame) {
	c.queue, c.kicked, c.draining = nil, false, true
	c.mu.Unlock()
	c.sendInline(frames)
}

// sendInline writes batch into the held socket and lets it out with one
// non-blocking write(2). What the kernel did not take, and frames queued
// meanwhile, are left to a writer goroutine.
func (c *Conn) sendInline(batch []Frame) {
	for _, g := range merge(batch) {
		if !c.handleNow(g) {
			c.out.releaseNow() // the connection is gone; drop what is held
			c.mu.Lock()
			c.draining = false
			c.queue = nil
			c.mu.Unlock()
			return
		}
	}
	left, err := c.out.releaseNow()
	if err != nil {
		c.Close(protocol.CloseSlow, "too slow: write failed")
		c.ws.CloseNow()
		c.mu.Lock()
		c.draining = false
		c.queue = nil
		c.mu.Unlock()
		return
	}
	c.mu.Lock()
	if c.spare == nil && cap(batch) <= spareCap {
		clear(batch)
		c.spare = batch[:0]
	}
	if !left && (len(c.queue) == 0 || c.isClosing()) {
		c.draining = false
		c.mu.Unlock()
		return
	}
	c.kicked = true
	c.mu.Unlock()
	go c.drain()
}

// holdMax is the most frames a Hold keeps waiting: past it a writer
// starts anyway, so a hold never lets the queue fill up (4008).
const holdMax = 8

// Hold keeps the frames queued from now on waiting, without a writer,
// until Release: the owner is about to make frames of its own (a
// message's ack after its commit) that should leave in the same write(2)
// as what the commit publishes to this connection (the sender's copy of
// the message). Without it the copy wakes a writer that writes it alone,
// and the ack takes a second write(2) a moment later. A hold delays
// nothing for longer than the owner's call: every Hold is followed by
// one Release, and at most holdMax frames wait.
func (c *Conn) Hold() {
	c.mu.Lock()
	c.holds++
	c.mu.Unlock()
}

// Release ends a Hold, queueing fs after the frames that waited (as Send
// would, one by one), and lets them all be written. It reports false if
// a frame could not be queued (the connection is closing or too slow).
func (c *Conn) Release(fs ...Frame) bool {
	c.mu.Lock()
	c.holds--
	ok := !c.isClosing()
	for _, f := range fs {
		if !ok {
			break
		}
		if !c.queueLocked(f) {
			c.kickLocked()
			c.mu.Unlock()
			c.Close(protocol.CloseSlow, "too slow: send queue full")
			return false
		}
	}
	if ok && c.started && c.holds == 0 && len(c.queue) > 0 && c.writableNow(0) && c.out.tryHold() {
		// The owner writes its frames itself (the copy and its ack, in
		// one write(2)): it has nothing else to do first.
		c.writeNowLocked(c.queue)
		return true
	}
	c.kickLocked()
	c.mu.Unlock()
	return ok
}

// kickLocked starts a writer if frames wait and none runs (and no Hold
// keeps them, unless holdMax of them wait).
func (c *Conn) kickLocked() {
	if c.started && !c.draining && len(c.queue) > 0 && (c.holds == 0 || len(c.queue) >= holdMax) {
		c.draining, c.kicked = true, true
		go c.drain()
	}
}

// drain writes queued frames until the queue is empty, then exits: the
// next Send starts another writer.
//
// Frames that wait go out in one write(2) (batch.go): when the writer
// finds several, it holds the socket, and releases it once it finds the
// queue empty — frames queued while it wrote join the same write. A
// frame that finds the queue empty and no batch held is written at once.
func (c *Conn) drain() {
	c.mu.Lock()
	if !c.kicked {
		// A Send or a Release took this writer's place before it ran
		// (writableNow), or another goroutine started for the same
		// place took it.
		c.mu.Unlock()
		return
	}
	c.kicked = false
	c.mu.Unlock()
	// Held already when Send wrote a frame itself and the kernel did not
	// take all of it: the rest goes out first, with the next frames.
	held := c.out != nil && c.out.pending()
	for {
		c.mu.Lock()
		batch := c.queue
		c.queue = nil
		select {
		case <-c.closing:
			batch = nil
		default:
		}
		if len(batch) == 0 {
			c.mu.Unlock()
			// Released on every path, before another writer may start:
			// a close frame (Close) or a ping may be held too.
			if held {
				held = false
				if c.flushOut() {
					continue // frames may have come meanwhile
				}
			}
			c.mu.Lock()
			if len(c.queue) > 0 && !c.isClosing() {
				c.mu.Unlock()
				continue
			}
			c.draining = false
			c.queue = nil
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		frames := merge(batch)
		if !held && c.out != nil && len(frames) > 1 {
			held = true
			c.out.hold()
		}
		ok := true
		for _, f := range frames {
			if ok = c.handle(f); !ok {
				break
			}
		}
		if !ok {
			if held {
				c.flushOut()
			}
			c.mu.Lock()
			c.draining = false
			c.queue = nil
			c.mu.Unlock()
			return
		}
		if cap(batch) <= spareCap {
			clear(batch)
			c.mu.Lock()
			c.spare = batch[:0]
			c.mu.Unlock()
		}
	}
}

func (c *Conn) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// merge joins runs of consecutive pieces of one streamed answer into one
// frame: a connection that fell behind catches up with one write instead
// of one per piece. The merged frame carries the last piece's index.
func merge(batch []Frame) []Frame {
	if !mergeable(batch) {
		return batch // the common case: nothing to merge, nothing to allocate
	}
	out := batch[:0:0]
	for i := 0; i < len(batch); i++ {
		f := batch[i]
		j := i + 1
		for f.Delta != nil && !f.Delta.Done && f.Delta.Index > 0 && j < len(batch) {
			g := batch[j].Delta
			if g == nil || g.Done || g.StreamID != f.Delta.StreamID || g.Index != f.Delta.Index+(j-i) {
				break
			}
			j++
		}
		if j == i+1 {
			out = append(out, f)
			continue
		}
		d := *f.Delta
		for _, g := range batch[i+1 : j] {
			d.Text += g.Delta.Text
			d.Index = g.Delta.Index
		}
		out = append(out, DeltaFrame(d))
		i = j - 1
	}
	return out
}

// mergeable reports whether merge would join any two frames of batch: a
// chat burst has none, and copying it would cost an allocation a batch.
func mergeable(batch []Frame) bool {
	for i := 1; i < len(batch); i++ {
		f, g := batch[i-1].Delta, batch[i].Delta
		if f != nil && g != nil && !f.Done && f.Index > 0 && !g.Done && g.StreamID == f.StreamID && g.Index == f.Index+1 {
			return true
		}
	}
	return false
}

// Close asks for the connection to be closed with code and reason. It
// returns at once; the first call's code wins.
func (c *Conn) Close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeMsg = code, reason
		close(c.closing)
		go func() {
			defer close(c.done)
			c.mu.Lock()
			if c.ping != nil {
				c.ping.Stop()
			}
			c.mu.Unlock()
			c.ws.Close(code, reason)
		}()
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

// Wait blocks until the connection is closed (after Close).
func (c *Conn) Wait() { <-c.done }

// Abort drops the connection without a close handshake.
func (c *Conn) Abort() { c.ws.CloseNow() }

// CloseBeforeStart closes with a code from any goroutine while no writer
// runs yet (during hello). It blocks for the close handshake.
func (c *Conn) CloseBeforeStart(code websocket.StatusCode, reason string) {
	c.Close(code, reason)
	c.Wait()
}

// pingOnce sends the heartbeat frame and pings the peer; a peer that has
// not answered within an interval of reading is gone. It runs on a
// timer's goroutine, so an idle connection has no goroutine of its own.
// The heartbeat goes every interval even while a pong is still awaited:
// a client watching it must not see a path the relay keeps alive as dead.
func (c *Conn) pingOnce() {
	c.mu.Lock()
	select {
	case <-c.closing:
		c.mu.Unlock()
		return
	default:
		c.ping.Reset(c.opts.PingInterval)
	}
	c.mu.Unlock()
	ping := c.pinging.CompareAndSwap(false, true) // false: the last pong is still awaited
	if !c.heartbeat(ping) || !ping {
		if ping {
			c.pinging.Store(false)
		}
		return
	}
	defer c.pinging.Store(false)
	err := c.pingFor(c.opts.PingInterval)
	if c.out != nil {
		// The heartbeat waits in the socket for the ping's write; a ping
		// that failed before writing must not keep it.
		c.out.unpair()
	}
	if err != nil {
		c.Close(protocol.CloseGoingAway, "no pong")
		c.ws.CloseNow()
	}
}

// heartbeat sends the ping frame, as a queued frame is: after the frames
// waiting, by the one writer. When none waits and no writer runs (an idle
// connection, most of them) it is written here, on the timer's goroutine,
// instead of starting a writer goroutine for it, and when a WebSocket ping
// follows (pair) the socket keeps it until the ping's write, so the two
// leave in one write(2) (batch.go). It reports false when the connection
// is gone.
func (c *Conn) heartbeat(pair bool) bool {
	c.mu.Lock()
	// The writer's state (probe, written) is read under mu while no
	// writer runs: nobody else touches it then.
	if !c.started || c.draining || len(c.queue) > 0 || c.isClosing() || c.probe != nil || c.written-c.acked >= c.opts.Window/2 {
		c.mu.Unlock()
		return c.Send(Frame{Data: pingData})
	}
	c.draining = true // this goroutine is the writer for one frame
	c.mu.Unlock()
	if pair && c.out != nil {
		c.out.holdPair()
	}
	ok := c.write(Frame{Data: pingData})
	c.mu.Lock()
	c.draining = false
	c.kickLocked()
	c.mu.Unlock()
	return ok
}

// handle writes one queued frame, or applies a Watch marker. It reports
// false when the connection is gone.
func (c *Conn) handle(f Frame) bool { return c.handleFrame(f, false) }

// handleNow is handle for Send's own write: into the held socket, so no
// timer bounds it (nothing in it waits for the peer).
func (c *Conn) handleNow(f Frame) bool { return c.handleFrame(f, true) }

func (c *Conn) handleFrame(f Frame, inline bool) bool {
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
		if len(buf) >= c.opts.Queue {
			c.Close(protocol.CloseSlow, "too slow: send queue full")
			return true
		}
		c.held[f.Conv] = append(buf, f)
		return true
	}
	if inline {
		return c.writeFrame(f, false)
	}
	return c.write(f)
}

// write sends one frame unless its seq was already sent.
func (c *Conn) write(f Frame) bool { return c.writeFrame(f, true) }

// writeFrame is write; bounded arms the stall timer around the write
// (Send's own write into the held socket cannot wait for the peer).
func (c *Conn) writeFrame(f Frame, bounded bool) bool {
	if f.Seq > 0 {
		if f.Seq <= c.seqs[f.Conv] {
			return true
		}
		c.noteSeq(f)
	}
	if !c.window() {
		return false
	}
	// One reusable timer bounds each write: a context with a timeout per
	// frame costs an allocation and a callback registration per write.
	if bounded {
		c.stall.Reset(c.opts.WriteTimeout)
	}
	err := c.ws.Write(context.Background(), websocket.MessageText, f.Data)
	if bounded {
		c.stall.Stop()
	}
	if err != nil {
		c.Close(protocol.CloseSlow, "too slow: write timed out")
		if c.out != nil {
			// A close frame written meanwhile may be held: it goes first.
			c.flushOut()
		}
		c.ws.CloseNow()
		return false
	}
	c.written += int64(len(f.Data))
	if c.probe == nil && c.written-c.acked >= c.opts.Window/2 {
		c.startProbe()
	}
	return true
}

// flushOut writes what the socket holds and stops holding, bounded by the
// write timeout as a frame's write is. It reports false when the
// connection is gone.
func (c *Conn) flushOut() bool {
	c.stall.Reset(c.opts.WriteTimeout)
	err := c.out.release()
	c.stall.Stop()
	if err != nil {
		c.Close(protocol.CloseSlow, "too slow: write timed out")
		c.ws.CloseNow()
		return false
	}
	return true
}

// window waits, before a write, until the bytes in flight are under the
// window. It reports false when the connection is gone.
func (c *Conn) window() bool {
	for {
		if p := c.probe; p != nil {
			select {
			case <-p.done:
				if !p.ok {
					return false
				}
				c.acked, c.probe = p.mark, nil
				if c.written-c.acked >= c.opts.Window/2 {
					c.startProbe()
				}
				continue
			default:
			}
		}
		if c.written-c.acked < c.opts.Window {
			return true
		}
		// Full: only the pong of the probe in flight can open it, and
		// its ping may be held with the batch, or not written yet: the
		// rest of the batch is not held. The probe ends by itself within
		// WriteTimeout.
		if c.out != nil && !c.flushOut() {
			return false
		}
		select {
		case <-c.probe.done:
		case <-c.closing:
			return false
		}
	}
}

// startProbe pings the peer after the bytes written so far. A pong that
// has not come within WriteTimeout means the peer stopped reading: the
// connection is closed as too slow (4008), however much the kernel
// buffers would still take.
func (c *Conn) startProbe() {
	p := &probe{mark: c.written, done: make(chan struct{})}
	c.probe = p
	go func() {
		err := c.pingFor(c.opts.WriteTimeout)
		if err != nil {
			c.Close(protocol.CloseSlow, "too slow: no pong within the write timeout")
			c.ws.CloseNow()
		}
		p.ok = err == nil
		close(p.done)
	}()
}

// reading is the time the owner has spent in Read so far.
func (c *Conn) reading(now int64) time.Duration {
	t := c.readTotal.Load()
	if start := c.readStart.Load(); start != 0 && now > start {
		t += now - start
	}
	return time.Duration(t)
}

// pingFor pings the peer and waits for the pong while the owner spends
// limit reading. A pong is only taken in by a Read: while the owner is
// busy elsewhere (a session waiting for its append's commit on a slow
// disk) the pong waits in the socket, and that wait is the relay's, not
// the peer's. A peer that is gone is still found out: the owner returns
// to Read, and limit of reading passes without the pong.
func (c *Conn) pingFor(limit time.Duration) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	from := c.reading(time.Now().UnixNano())
	var t atomic.Pointer[time.Timer]
	var over atomic.Bool
	// The timer, not a goroutine, watches the deadline: an idle session
	// pinged every interval costs no goroutine beyond the timer's.
	t.Store(time.AfterFunc(time.Hour, func() {
		left := limit - (c.reading(time.Now().UnixNano()) - from)
		if left <= 0 || over.Load() {
			cancel()
			return
		}
		// Not read long enough yet: wait for the rest (at least a tenth
		// of the limit, so an owner away for long is not polled often).
		t.Load().Reset(max(left, limit/10))
	}))
	t.Load().Reset(limit) // armed once stored: the callback reads it
	err := c.ws.Ping(ctx)
	over.Store(true)
	t.Load().Stop()
	return err
}
