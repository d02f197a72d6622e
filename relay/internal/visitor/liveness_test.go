package visitor

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/protocol"
)

// rawTCP opens the visitor socket by hand over a bare TCP connection and
// says hello: a peer whose kernel buffers fill because nothing reads them.
func (rl *relay) rawTCP(hello string) net.Conn {
	rl.t.Helper()
	addr := strings.TrimPrefix(rl.srv.URL, "http://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		rl.t.Fatal(err)
	}
	rl.t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /v1/ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		rl.t.Fatalf("upgrade: %v %v", resp, err)
	}
	// One masked text frame, as a client must send.
	frame := []byte{0x81, 0x80 | byte(len(hello))}
	mask := []byte{1, 2, 3, 4}
	frame = append(frame, mask...)
	for i := range len(hello) {
		frame = append(frame, hello[i]^mask[i%4])
	}
	if len(hello) > 125 {
		rl.t.Fatal("hello too long for a one-byte length")
	}
	if _, err := conn.Write(frame); err != nil {
		rl.t.Fatal(err)
	}
	conn.SetDeadline(time.Time{})
	return conn
}

// A visitor socket that never reads while the relay floods it is cut
// (4008) within about the write timeout, though everything sent (1 MiB)
// would fit in the kernel's buffers: the relay bounds the bytes in flight
// and wants a pong for them. Before that bound, it was cut only when the
// buffers filled, or by the ping tens of seconds later.
func TestNonReadingSocketCut(t *testing.T) {
	opts := defaultOptions()
	opts.Conn.WriteTimeout = time.Second
	opts.Conn.PingInterval = time.Hour // not the liveness ping: the window
	opts.Conn.Queue = 1 << 16          // nor a full queue
	rl := newRelay(t, opts)
	reader, rec := rl.dial(client.Options{})
	token, conv, _ := reader.State()
	rl.rawTCP(fmt.Sprintf(`{"type":"hello","token":%q,"last_seq":0}`, token))
	deadline := time.Now().Add(10 * time.Second)
	for rl.hub.Subscribers(chat.Topic(conv)) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the raw socket never joined")
		}
		time.Sleep(10 * time.Millisecond)
	}

	start := time.Now()
	pad := strings.Repeat("x", 1000)
	sent := 0
	for i := 0; i < 1024 && testutilCount(rl, "visitor", "4008") == 0; i++ {
		rl.hub.Publish(chat.Topic(conv), hub.NewFrame(protocol.TypingOut{Type: protocol.TypeTyping, ConversationID: conv, From: protocol.FromAgent, Author: pad}))
		sent++
	}
	deadline = time.Now().Add(20 * time.Second)
	for testutilCount(rl, "visitor", "4008") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("a socket that reads nothing is still open %v after %d KiB", time.Since(start), sent)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("cut after %v (write timeout %v, %d frames published)", time.Since(start).Round(time.Millisecond), opts.Conn.WriteTimeout, sent)

	// The reading tab was never held up, and still works.
	if _, err := reader.Send(ctx5(t), "still here"); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 1)
}

// The heartbeat: every ping interval a visitor gets {"type":"ping"}, and
// the welcome says how often, so a client can tell a dead path from a
// quiet one.
func TestHeartbeat(t *testing.T) {
	opts := defaultOptions()
	opts.Conn.PingInterval = 200 * time.Millisecond
	rl := newRelay(t, opts)
	r := rl.raw(nil)
	w := r.hello()
	if w["ping_ms"] != float64(200) {
		t.Errorf("welcome ping_ms = %v, want 200", w["ping_ms"])
	}
	for range 2 {
		r.next("ping")
	}
	// The heartbeat is also refused from clients: it is a server frame.
	r.send(`{"type":"ping"}`)
	if e := r.next("error"); e["code"] != string(protocol.CodeUnknownType) {
		t.Errorf("client ping: %v", e)
	}
}

// freezer is a TCP proxy in front of the relay whose connections can be
// frozen: bytes stop flowing both ways and nothing is closed, as on a path
// that died silently (a NAT that forgot the flow, a relay stopped with
// SIGSTOP). Connections opened after a freeze flow again.
type freezer struct {
	ln     net.Listener
	mu     sync.Mutex
	frozen chan struct{} // closed to freeze the connections opened before
}

func newFreezer(t *testing.T, upstream string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, frozen: make(chan struct{})}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); close(done) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			f.mu.Lock()
			frozen := f.frozen
			f.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				defer dst.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := src.Read(buf)
					select {
					case <-frozen:
						<-done // hold everything, close nothing, until the test ends
						return
					default:
					}
					if n > 0 {
						if _, werr := dst.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}
			go pipe(up, c)
			go pipe(c, up)
		}
	}()
	return f
}

// freeze stops every connection open now.
func (f *freezer) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.frozen)
	f.frozen = make(chan struct{})
}

func (f *freezer) url() string { return "ws://" + f.ln.Addr().String() + "/v1/ws" }

// The Go client notices a path that died silently by the missing
// heartbeat, reconnects and resumes: what was stored meanwhile arrives
// once, in order, and a message sent into the dead path is stored once.
func TestClientDetectsSilentPath(t *testing.T) {
	opts := defaultOptions()
	opts.Conn.PingInterval = 200 * time.Millisecond
	rl := newRelay(t, opts)
	px := newFreezer(t, strings.TrimPrefix(rl.srv.URL, "http://"))
	rec := newRecorder()
	c, err := client.Dial(ctx5(t), client.Options{URL: px.url(), OnMessage: rec.add, MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Send(ctx5(t), "before"); err != nil {
		t.Fatal(err)
	}
	token, _, _ := c.State()
	other, _ := rl.dial(client.Options{Token: token})

	px.freeze()
	// Stored while the path is dead: the frozen client cannot get it.
	if _, err := other.Send(ctx5(t), "while frozen"); err != nil {
		t.Fatal(err)
	}
	// Sent into the dead path: resent after the reconnect, stored once.
	if _, err := c.Send(ctx5(t), "from the frozen side"); err != nil {
		t.Fatal(err)
	}
	got := rec.waitFor(t, 3)
	if c.Dials() < 2 {
		t.Errorf("dials = %d, want a reconnect", c.Dials())
	}
	texts := []string{}
	for i, m := range got {
		if m.Seq != uint64(i+1) {
			t.Fatalf("message %d has seq %d", i, m.Seq)
		}
		texts = append(texts, m.Text)
	}
	if strings.Join(texts, "|") != "before|while frozen|from the frozen side" {
		t.Errorf("messages %q", texts)
	}
	msgs, _ := rl.store.Messages(got[0].ConversationID, 0, 0)
	if len(msgs) != 3 {
		t.Errorf("stored %d messages, want 3 (nothing doubled)", len(msgs))
	}
}

// A slow disk does not cut healthy sockets. While a visitor's message
// waits for a commit that takes many ping intervals, its session is not
// reading, so the pong to the relay's ping waits in the socket: the relay
// counts the pong's deadline in time spent reading, and the heartbeat
// frames keep coming meanwhile. Before, such a socket was closed 1001 "no
// pong" after one interval (852 of 1 000 visitor sockets in a 3 000 msg/s
// soak whose delivery p99 was 12 s).
func TestSlowStoreKeepsSockets(t *testing.T) {
	opts := defaultOptions()
	opts.Conn.PingInterval = 250 * time.Millisecond
	rl := newRelay(t, opts)
	r := rl.raw(nil)
	r.hello()
	r.send(`{"type":"message","id":"m1","text":"before"}`)
	if a := r.next("ack"); a["id"] != "m1" {
		t.Fatalf("ack %v", a)
	}
	release := rl.stallCommits()
	r.send(`{"type":"message","id":"m2","text":"while the disk is slow"}`)
	// Eight heartbeats while the append waits: two intervals would have
	// been enough to close the socket before.
	for range 8 {
		r.next("ping")
	}
	release()
	if a := r.next("ack"); a["id"] != "m2" || a["seq"] != float64(2) {
		t.Fatalf("ack after the stall: %v", a)
	}
	r.send(`{"type":"message","id":"m3","text":"after"}`)
	if a := r.next("ack"); a["id"] != "m3" || a["seq"] != float64(3) {
		t.Fatalf("ack %v", a)
	}
	if n := testutilCount(rl, "visitor", "1001"); n != 0 {
		t.Errorf("%v visitor sockets closed 1001", n)
	}
}
