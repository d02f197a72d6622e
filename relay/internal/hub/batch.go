package hub

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"

	"github.com/coder/websocket"
)

// coder/websocket flushes its buffer after every message, and a flush is
// a write(2): the socket path spent a fifth of the relay's CPU on one
// syscall per frame (docs/benchmarks.md). The library has no way to write
// several messages in one flush, so the hub puts itself under it: Accept
// hands the library a socket (batchConn) that, while a Conn's writer
// holds it, keeps what the library writes and lets it go in one write(2)
// when the writer has written every frame waiting in its queue. A frame
// that finds the queue empty is written at once, as before: batching
// only ever joins frames that were already waiting, so it adds no
// latency.
//
// A streamed answer's delta that finds no writer running is written by
// Send itself, in the publisher's goroutine (one goroutine start and one
// thread wake-up less per delta), with the frames waiting before it if
// the writer started for them has not run yet; so are the owner's copy
// and ack by Release (Conn.writableNow). That write must never wait for
// the peer, so it goes into the held socket and out with one non-blocking
// write(2) (tryHold, releaseNow); whatever the kernel does not take is
// left to a writer goroutine, as before.

// batchMax is the most a held socket keeps before it writes anyway: the
// bytes in flight a connection may have (DefaultWindow), so a held batch
// costs no more memory than the window allows.
const batchMax = DefaultWindow

// batchBufs recycles the buffers of held batches: an idle connection
// keeps none.
var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// batchConn is the socket under a Conn made by Accept.
type batchConn struct {
	net.Conn
	raw    syscall.RawConn // for writes that must not wait; nil if the socket has none (TLS)
	mu     sync.Mutex
	held   bool
	pair   bool    // held for one more write only (holdPair)
	buf    *[]byte // what was written while held; nil when empty
	writes int64   // write(2) calls made, for tests and benchmarks
}

// Write passes p to the socket, or keeps it while the batch is held.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held {
		if b.buf == nil {
			b.buf = batchBufs.Get().(*[]byte)
		}
		if len(*b.buf)+len(p) <= batchMax {
			*b.buf = append(*b.buf, p...)
			if !b.pair || len(*b.buf) == len(p) {
				return len(p), nil
			}
			// The second write of a pair: both leave now.
			b.held, b.pair = false, false
			if err := b.flushLocked(); err != nil {
				return 0, err
			}
			return len(p), nil
		}
		if b.pair {
			b.held, b.pair = false, false // too big to pair: nothing is kept
		}
	}
	if err := b.flushLocked(); err != nil {
		return 0, err
	}
	b.writes++
	return b.Conn.Write(p)
}

// hold keeps what is written from now on, until release.
func (b *batchConn) hold() {
	b.mu.Lock()
	b.held, b.pair = true, false
	b.mu.Unlock()
}

// tryHold holds the socket for a write that must not wait (Conn.Send
// writing in the publisher's goroutine), and reports whether it did: not
// while another goroutine is in a write(2) (a ping's, a close frame's,
// which may be waiting for a peer that stopped reading) or while bytes a
// write left over wait; not on a socket without a RawConn.
func (b *batchConn) tryHold() bool {
	if b.raw == nil || !b.mu.TryLock() {
		return false
	}
	defer b.mu.Unlock()
	if b.held || b.buf != nil {
		return false
	}
	b.held = true
	return true
}

// releaseNow writes what is kept with one non-blocking write(2). What the
// kernel does not take stays kept, the socket still held, and left
// reports true: the caller's writer goroutine releases it (release), which
// may wait.
func (b *batchConn) releaseNow() (left bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil || len(*b.buf) == 0 {
		b.held = false
		b.recycleLocked()
		return false, nil
	}
	p := *b.buf
	n := 0
	var werr error
	if err := b.raw.Write(func(fd uintptr) bool {
		n, werr = syscall.Write(int(fd), p)
		return true // never wait for the socket to become writable
	}); err != nil {
		return false, err
	}
	b.writes++
	if errors.Is(werr, syscall.EAGAIN) || errors.Is(werr, syscall.EINTR) {
		n, werr = 0, nil
	}
	if werr != nil {
		return false, werr
	}
	if n >= len(p) {
		b.held = false
		b.recycleLocked()
		return false, nil
	}
	*b.buf = p[:copy(p, p[n:])]
	return true, nil
}

// pending reports whether the socket is held (bytes may wait in it).
func (b *batchConn) pending() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

func (b *batchConn) recycleLocked() {
	if b.buf == nil {
		return
	}
	buf := b.buf
	b.buf = nil
	if cap(*buf) <= batchMax {
		*buf = (*buf)[:0]
		batchBufs.Put(buf)
	}
}

// holdPair keeps the next write until the one after it, and lets both go
// in one write(2): a heartbeat frame and the WebSocket ping after it.
func (b *batchConn) holdPair() {
	b.mu.Lock()
	if !b.held {
		b.held, b.pair = true, true
	}
	b.mu.Unlock()
}

// unpair writes what a pair still keeps (its second write never came).
func (b *batchConn) unpair() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.pair {
		return nil
	}
	b.held, b.pair = false, false
	return b.flushLocked()
}

// release writes what is kept and stops holding.
func (b *batchConn) release() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held, b.pair = false, false
	return b.flushLocked()
}

func (b *batchConn) flushLocked() error {
	if b.buf == nil {
		return nil
	}
	buf := b.buf
	b.buf = nil
	var err error
	if len(*buf) > 0 {
		b.writes++
		_, err = b.Conn.Write(*buf)
	}
	if cap(*buf) <= batchMax {
		*buf = (*buf)[:0]
		batchBufs.Put(buf)
	}
	return err
}

// Writes is the number of write(2) calls the socket made.
func (b *batchConn) Writes() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.writes
}

// batchWriter gives coder/websocket the batchConn when it hijacks the
// request.
type batchWriter struct {
	http.ResponseWriter
	conn *batchConn
}

func (w *batchWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *batchWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// net/http flushed the 101 response before handing the connection
	// over; what its writer may still buffer goes out first.
	if err := brw.Writer.Flush(); err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("hub: flush the upgrade: %w", err)
	}
	w.conn = &batchConn{Conn: nc}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			w.conn.raw = raw
		}
	}
	brw.Writer.Reset(w.conn)
	return w.conn, brw, nil
}

// Accept upgrades the request to a WebSocket (websocket.Accept with
// aopts) and wraps it in a Conn whose writer sends the frames waiting in
// its queue in one write(2).
func Accept(w http.ResponseWriter, r *http.Request, aopts *websocket.AcceptOptions, kind string, opts ConnOptions) (*Conn, error) {
	bw := &batchWriter{ResponseWriter: w}
	ws, err := websocket.Accept(bw, r, aopts)
	if err != nil {
		return nil, err
	}
	c := NewConn(ws, kind, opts)
	c.out = bw.conn
	return c, nil
}
