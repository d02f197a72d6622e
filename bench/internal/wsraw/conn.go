// Package wsraw is a lean client side of RFC 6455 for the load generator:
// a hand-written upgrade, masked text frames out, unmasked frames in, pings
// answered. It keeps the generator's own cost per frame a small fraction of
// the relay's, so what the benchmark measures is the relay. It supports
// only what the benchmark needs: no extensions, no subprotocols.
package wsraw

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// Opcodes used here.
const (
	opCont  = 0x0
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// maxMessage bounds one reassembled message (an agent's welcome with a big
// inbox is the largest frame the benchmark sees).
const maxMessage = 16 << 20

// Conn is one client WebSocket. Read from one goroutine; Write from any.
type Conn struct {
	c  net.Conn
	br *bufio.Reader

	wmu  sync.Mutex
	wbuf []byte

	rbuf  []byte
	pings atomic.Int64
}

// Pings counts the pings answered so far.
func (c *Conn) Pings() int64 { return c.pings.Load() }

// Dial connects to ws://host/path from the local address laddr (may be
// nil) and upgrades. hdr adds request headers (Cookie, Origin).
func Dial(ctx context.Context, laddr *net.TCPAddr, url string, hdr http.Header) (*Conn, error) {
	host, path, ok := strings.Cut(strings.TrimPrefix(url, "ws://"), "/")
	if !ok || strings.HasPrefix(url, "wss://") {
		return nil, fmt.Errorf("wsraw: want ws://host/path, got %q", url)
	}
	d := net.Dialer{}
	if laddr != nil {
		d.LocalAddr = laddr
	}
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("wsraw: dial %s: %w", host, err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	conn, err := handshake(c, host, "/"+path, hdr)
	if err != nil {
		c.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("wsraw: upgrade %s: %w", url, ctx.Err())
		}
		return nil, fmt.Errorf("wsraw: upgrade %s: %w", url, err)
	}
	return conn, nil
}

func handshake(c net.Conn, host, path string, hdr http.Header) (*Conn, error) {
	var kb [16]byte
	rand.Read(kb[:])
	key := base64.StdEncoding.EncodeToString(kb[:])
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", path, host, key)
	for k, vs := range hdr {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(c, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(body))}
	}
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(h[:]) {
		return nil, errors.New("bad Sec-WebSocket-Accept")
	}
	return &Conn{c: c, br: br}, nil
}

// StatusError is an upgrade the server refused.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body) }

// Write sends one text frame.
func (c *Conn) Write(payload []byte) error { return c.write(opText, payload) }

func (c *Conn) write(op byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := append(c.wbuf[:0], 0x80|op)
	n := len(payload)
	switch {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	// The mask only has to be unpredictable to scripts on a browser page;
	// a fast PRNG is plenty for a load generator.
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], mrand.Uint32())
	b = append(b, mask[:]...)
	off := len(b)
	b = append(b, payload...)
	for i := range n {
		b[off+i] ^= mask[i&3]
	}
	c.wbuf = b
	_, err := c.c.Write(b)
	return err
}

// Read returns the next text message. The slice is valid until the next
// Read. Pings are answered on the way; a close frame is echoed and ends
// the connection with io.EOF.
func (c *Conn) Read() ([]byte, error) {
	msg := c.rbuf[:0]
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			return nil, err
		}
		fin, op := h[0]&0x80 != 0, h[0]&0x0F
		if h[1]&0x80 != 0 {
			return nil, errors.New("wsraw: masked frame from server")
		}
		n := uint64(h[1] & 0x7F)
		switch n {
		case 126:
			var e [2]byte
			if _, err := io.ReadFull(c.br, e[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(e[:]))
		case 127:
			var e [8]byte
			if _, err := io.ReadFull(c.br, e[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(e[:])
		}
		if n > maxMessage || uint64(len(msg))+n > maxMessage {
			return nil, fmt.Errorf("wsraw: frame of %d bytes", n)
		}
		if op >= opClose {
			var ctl [125]byte
			p := ctl[:n]
			if _, err := io.ReadFull(c.br, p); err != nil {
				return nil, err
			}
			switch op {
			case opPing:
				c.pings.Add(1)
				if err := c.write(opPong, p); err != nil {
					return nil, err
				}
			case opClose:
				c.write(opClose, p)
				c.c.Close()
				return nil, io.EOF
			}
			continue
		}
		start := len(msg)
		msg = append(msg, make([]byte, n)...)
		if _, err := io.ReadFull(c.br, msg[start:]); err != nil {
			return nil, err
		}
		if op != opText && op != opCont {
			return nil, fmt.Errorf("wsraw: unexpected opcode %d", op)
		}
		if fin {
			c.rbuf = msg
			return msg, nil
		}
	}
}

// Close sends a normal close frame and drops the connection without
// waiting for the answer: the generator is done with it.
func (c *Conn) Close() error {
	c.write(opClose, []byte{0x03, 0xE8})
	return c.c.Close()
}

// CloseNow drops the connection.
func (c *Conn) CloseNow() error { return c.c.Close() }
