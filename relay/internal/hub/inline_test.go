package hub

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/protocol"
)

func deltaFrame(i int, text string) Frame {
	return DeltaFrame(protocol.Delta{Type: protocol.TypeDelta, ConversationID: "c", StreamID: "s", Index: i, Text: text})
}

// A delta that finds no writer running is written by Send itself, before
// it returns, in one write(2); frames of other kinds still go through the
// writer, and everything arrives in the order it was sent.
func TestSendWritesADeltaItself(t *testing.T) {
	c, cl := unstarted(t, ConnOptions{Queue: 256, WriteTimeout: 10 * time.Second, PingInterval: time.Hour, ReadLimit: 1 << 16})
	c.Start()
	const n = 200
	for i := 1; i <= n; i++ {
		before := c.out.Writes()
		if !c.Send(deltaFrame(i, " word")) {
			t.Fatalf("delta %d not taken", i)
		}
		if got := c.out.Writes(); got != before+1 {
			t.Fatalf("delta %d: %d write(2) calls by the time Send returned, want 1", i, got-before)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 1; i <= n; i++ {
		_, data, err := cl.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := `"index":` + strconv.Itoa(i) + `,`; !strings.Contains(string(data), want) {
			t.Fatalf("frame %d: %s, want %s", i, data, want)
		}
	}
	// Mixed: chat frames through the writer, deltas by Send when it is
	// idle; the order holds. (Indices with gaps: the writer would merge
	// consecutive pieces of a stream it finds waiting.)
	for i := 1; i <= n; i++ {
		if i%3 == 0 {
			c.Send(seqFrame("c", uint64(i)))
		} else {
			c.Send(deltaFrame(10*(n+i), "x"))
		}
	}
	for i := 1; i <= n; i++ {
		_, data, err := cl.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := `"index":` + strconv.Itoa(10*(n+i)) + `,`
		if i%3 == 0 {
			want = `"seq":` + strconv.Itoa(i) + `,`
		}
		if !strings.Contains(string(data), want) {
			t.Fatalf("mixed frame %d: %s, want %s", i, data, want)
		}
	}
}

// Send never waits for a peer that stopped reading, even when it writes a
// delta itself: what the kernel does not take is left to a writer
// goroutine, the queue fills behind it, and the connection is closed as
// too slow. The write timeout (an hour) and the window (1 GiB) are out of
// the way, so a Send that waited would hang here.
func TestSendNeverWaitsForAStalledReader(t *testing.T) {
	c, _ := unstarted(t, ConnOptions{Queue: 64, WriteTimeout: time.Hour, PingInterval: time.Hour, ReadLimit: 1 << 16, Window: 1 << 30})
	c.Start()
	text := strings.Repeat("y", 4000)
	done := make(chan int, 1)
	go func() {
		i := 1
		for ; i < 1_000_000 && c.Send(deltaFrame(i, text)); i++ {
		}
		done <- i
	}()
	select {
	case i := <-done:
		if code := c.CloseCode(); code != protocol.CloseSlow {
			t.Fatalf("after %d deltas: close code %d, want %d", i, code, protocol.CloseSlow)
		}
		t.Logf("closed as too slow after %d deltas (%d KB)", i, i*4)
	case <-time.After(60 * time.Second):
		t.Fatal("Send waited for a reader that stopped reading")
	}
}
