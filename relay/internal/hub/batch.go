package hub

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sync"

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
	mu     sync.Mutex
	held   bool
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
			return len(p), nil
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
	b.held = true
	b.mu.Unlock()
}

// release writes what is kept and stops holding.
func (b *batchConn) release() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held = false
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
