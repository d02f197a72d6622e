package hub

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/protocol"
)

// A reader that keeps reading gets everything through a small window, in
// order: the writer waits for pongs but never gives up on a live peer.
func TestWindowLetsAReaderThrough(t *testing.T) {
	c, cl := pair(t, ConnOptions{Queue: 1 << 16, WriteTimeout: 5 * time.Second, PingInterval: time.Hour, ReadLimit: 1 << 16, Window: 4 << 10})
	const n = 2000
	pad := strings.Repeat("x", 200)
	for i := range n {
		if !c.Send(NewFrame(map[string]any{"type": "message", "n": i, "pad": pad})) {
			t.Fatalf("send %d refused", i)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range n {
		_, data, err := cl.Read(ctx)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		var f struct{ N int }
		if err := json.Unmarshal(data, &f); err != nil || f.N != i {
			t.Fatalf("frame %d is %s", i, data)
		}
	}
	if code := c.CloseCode(); code != 0 {
		t.Fatalf("a reading peer was closed with %d", code)
	}
}

// A peer that stops reading is cut within the write timeout of the
// window filling up, though the kernel would buffer everything sent
// (≈ 4 MB on loopback; this sends 512 KiB).
func TestWindowCutsAStalledReader(t *testing.T) {
	c, _ := pair(t, ConnOptions{Queue: 1 << 16, WriteTimeout: 500 * time.Millisecond, PingInterval: time.Hour, ReadLimit: 1 << 16, Window: 16 << 10})
	pad := strings.Repeat("x", 1000)
	for i := range 512 {
		if !c.Send(NewFrame(map[string]any{"type": "message", "n": i, "pad": pad})) {
			break
		}
	}
	select {
	case <-c.Closing():
	case <-time.After(20 * time.Second):
		t.Fatal("a peer that reads nothing is still connected")
	}
	if code := c.CloseCode(); code != protocol.CloseSlow {
		t.Errorf("close code %d, want %d", code, protocol.CloseSlow)
	}
}

// Every ping interval the peer gets the heartbeat frame, through the
// queue, whether or not anything else is sent.
func TestHeartbeatFrame(t *testing.T) {
	_, cl := pair(t, ConnOptions{Queue: 16, WriteTimeout: 5 * time.Second, PingInterval: 50 * time.Millisecond, ReadLimit: 1 << 16})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 3 {
		_, data, err := cl.Read(ctx)
		if err != nil {
			t.Fatalf("heartbeat %d: %v", i, err)
		}
		if string(data) != pingJSON {
			t.Fatalf("frame %s, want %s", data, pingJSON)
		}
	}
}
