package hub

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Frames waiting in the queue when the writer runs go out in one write(2),
// in order; a frame that finds the queue empty is written at once, alone.
func TestBatchOneWritePerQueue(t *testing.T) {
	c, cl := unstarted(t, ConnOptions{Queue: 256, WriteTimeout: 10 * time.Second, PingInterval: time.Hour, ReadLimit: 1 << 16})
	const n = 50
	for i := range n {
		c.Send(seqFrame("c", uint64(i+1)))
	}
	before := c.out.Writes()
	c.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	read := func(want uint64) {
		t.Helper()
		_, data, err := cl.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var f struct{ Seq uint64 }
		if err := json.Unmarshal(data, &f); err != nil || f.Seq != want {
			t.Fatalf("frame %s, want seq %d", data, want)
		}
	}
	for i := range n {
		read(uint64(i + 1))
	}
	idle := func() bool { c.mu.Lock(); defer c.mu.Unlock(); return !c.draining }
	for deadline := time.Now().Add(20 * time.Second); !idle(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the writer never finished")
		}
	}
	if w := c.out.Writes() - before; w != 1 {
		t.Errorf("%d frames waiting took %d write calls, want 1", n, w)
	}
	c.Send(seqFrame("c", n+1))
	read(n + 1)
	if w := c.out.Writes() - before; w != 2 {
		t.Errorf("a lone frame after the batch: %d write calls in all, want 2", w)
	}
}

// What another goroutine writes while a batch is held — here the close
// frame — leaves with the batch, after the frames before it.
func TestBatchHeldCloseFrame(t *testing.T) {
	c, cl := unstarted(t, ConnOptions{Queue: 256, WriteTimeout: 10 * time.Second, PingInterval: time.Hour, ReadLimit: 1 << 16})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c.out.hold()
	if err := c.WriteNow(ctx, seqFrame("c", 1)); err != nil {
		t.Fatal(err)
	}
	c.Close(protocol.CloseSlow, "too slow")
	// Nothing leaves while held: the close handshake waits for it.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		c.out.mu.Lock()
		n := 0
		if c.out.buf != nil {
			n = len(*c.out.buf)
		}
		c.out.mu.Unlock()
		if n > len(`{"conversation_id":"c","seq":1,"type":"message"}`)+2 {
			break // the frame and the close frame
		}
		if time.Now().After(deadline) {
			t.Fatal("the close frame never reached the held batch")
		}
	}
	if err := c.out.release(); err != nil {
		t.Fatal(err)
	}
	if _, data, err := cl.Read(ctx); err != nil || !strings.Contains(string(data), `"seq":1`) {
		t.Fatalf("first frame %s, %v", data, err)
	}
	_, _, err := cl.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != protocol.CloseSlow {
		t.Fatalf("after the frame: %v, want close %d", err, protocol.CloseSlow)
	}
}

// An idle connection's heartbeat frame and the WebSocket ping after it
// leave in one write(2), written by the ping's timer (no writer goroutine),
// and the peer gets both: the frame, and a ping it answers.
func TestHeartbeatOneWrite(t *testing.T) {
	c, cl := unstarted(t, ConnOptions{Queue: 16, WriteTimeout: 10 * time.Second, PingInterval: 400 * time.Millisecond, ReadLimit: 1 << 16})
	c.Start()
	before := c.out.Writes()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const beats = 3
	for got := 0; got < beats; {
		_, data, err := cl.Read(ctx) // answers the pings too
		if err != nil {
			t.Fatalf("after %d heartbeats: %v", got, err)
		}
		if string(data) != pingJSON {
			t.Fatalf("frame %s, want the heartbeat", data)
		}
		got++
	}
	// One write a beat (two before); a beat whose write raced the read
	// above may have started.
	if w := c.out.Writes() - before; w > beats+1 {
		t.Errorf("%d write(2) calls for %d heartbeats and their pings", w, beats)
	}
	if code := c.CloseCode(); code != 0 {
		t.Errorf("closed with %d: the pings were not answered", code)
	}
}

// A frame sent while the owner holds the connection (a message's copy,
// published by its commit) waits for the frame Release adds (the ack),
// and the two leave in one write(2), in order. Past holdMax frames a
// writer starts anyway.
func TestHoldReleaseOneWrite(t *testing.T) {
	c, cl := unstarted(t, ConnOptions{Queue: 256, WriteTimeout: 10 * time.Second, PingInterval: time.Hour, ReadLimit: 1 << 16})
	c.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	read := func(want uint64) {
		t.Helper()
		_, data, err := cl.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var f struct{ Seq uint64 }
		if err := json.Unmarshal(data, &f); err != nil || f.Seq != want {
			t.Fatalf("frame %s, want seq %d", data, want)
		}
	}
	idle := func() bool { c.mu.Lock(); defer c.mu.Unlock(); return !c.draining && len(c.queue) == 0 }
	waitIdle := func() {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !idle(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the writer never finished")
			}
		}
	}
	before := c.out.Writes()
	c.Hold()
	c.Send(seqFrame("c", 1))
	c.mu.Lock()
	started := c.draining
	c.mu.Unlock()
	if started {
		t.Fatal("a writer started while the connection was held")
	}
	c.Release(seqFrame("c", 2))
	read(1)
	read(2)
	waitIdle()
	if w := c.out.Writes() - before; w != 1 {
		t.Errorf("a held frame and the released one took %d write calls, want 1", w)
	}

	// A hold keeps at most holdMax frames from a writer.
	c.Hold()
	for i := range holdMax {
		c.Send(seqFrame("c", uint64(3+i)))
	}
	for i := range holdMax {
		read(uint64(3 + i))
	}
	c.Release()
	waitIdle()
}
