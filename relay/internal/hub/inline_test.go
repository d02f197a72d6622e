package hub

import (
	"context"
	"encoding/json"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
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

// onOneProcessor starts a connection for a test that runs on one
// processor from now on: a writer goroutine the test makes Send start
// cannot run before the test blocks, so it finds the writer started and
// not running. It returns the client and a deadline for its reads.
func onOneProcessor(t *testing.T) (*Conn, *websocket.Conn, context.Context) {
	t.Helper()
	prev := runtime.GOMAXPROCS(1)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	c, cl := unstarted(t, ConnOptions{Queue: 256, WriteTimeout: 10 * time.Second, PingInterval: time.Hour, ReadLimit: 1 << 16})
	c.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c, cl, ctx
}

// A delta that comes while the writer started for the frames before it
// has not run yet takes its place: those frames and the delta leave in
// one write(2) before Send returns, in order, and the writer, when it
// runs, writes nothing again. (An answer's first piece comes right after
// its question's copy, ack and typing indicator; on a busy relay their
// writer may wait milliseconds for a processor, and the piece with it.)
func TestSendTakesTheWaitingWritersPlace(t *testing.T) {
	c, cl, ctx := onOneProcessor(t)
	const rounds = 50
	taken := 0
	for i := 1; i <= rounds; i++ {
		before := c.out.Writes()
		c.Send(seqFrame("c", uint64(2*i-1)))
		c.Send(seqFrame("c", uint64(2*i)))
		c.Send(deltaFrame(i, " word"))
		if c.out.Writes()-before == 1 {
			taken++
		}
		for _, want := range []string{`"seq":` + strconv.Itoa(2*i-1), `"seq":` + strconv.Itoa(2*i), `"index":` + strconv.Itoa(i) + `,`} {
			_, data, err := cl.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), want) {
				t.Fatalf("round %d: %s, want %s", i, data, want)
			}
		}
	}
	// A round the scheduler preempted between the sends (a loaded box)
	// leaves the frames to the writer; most rounds must not.
	if taken < rounds*4/5 {
		t.Fatalf("the delta wrote the waiting frames itself in %d of %d rounds", taken, rounds)
	}
	// Nothing was written twice: the next frame is the next one sent.
	c.Send(seqFrame("c", 1000))
	if _, data, err := cl.Read(ctx); err != nil || !strings.Contains(string(data), `"seq":1000`) {
		t.Fatalf("after the rounds: %s, %v; want seq 1000", data, err)
	}
}

// Chat frames and deltas sent from two goroutines at once arrive whole,
// once, each sender's in its order, whoever wrote them.
func TestSendOrderWithTwoSenders(t *testing.T) {
	c, cl := unstarted(t, ConnOptions{Queue: 4096, WriteTimeout: 10 * time.Second, PingInterval: time.Hour, ReadLimit: 1 << 16})
	c.Start()
	const n = 2000
	go func() {
		for i := 1; i <= n; i++ {
			c.Send(seqFrame("c", uint64(i)))
		}
	}()
	go func() {
		for i := 1; i <= n; i++ {
			// Indices two apart: the writer merges consecutive ones.
			c.Send(deltaFrame(2*i, "x"))
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seq, index := 0, 0
	for seq < n || index < 2*n {
		_, data, err := cl.Read(ctx)
		if err != nil {
			t.Fatalf("after seq %d and index %d: %v", seq, index, err)
		}
		var f struct {
			Type  string `json:"type"`
			Seq   int    `json:"seq"`
			Index int    `json:"index"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		switch f.Type {
		case "message":
			if f.Seq != seq+1 {
				t.Fatalf("seq %d after %d", f.Seq, seq)
			}
			seq = f.Seq
		case protocol.TypeDelta:
			if f.Index != index+2 {
				t.Fatalf("index %d after %d", f.Index, index)
			}
			index = f.Index
		default:
			t.Fatalf("unexpected frame %s", data)
		}
	}
}

// Release writes the frames its Hold kept and its own in one write(2)
// before it returns (the owner's copy and ack need no writer goroutine),
// and a streamed answer's other frames (Stream) are written by Send
// itself like its deltas.
func TestReleaseAndStreamFramesWriteThemselves(t *testing.T) {
	c, cl, ctx := onOneProcessor(t)
	const rounds = 50
	released, streamed := 0, 0
	for i := 1; i <= rounds; i++ {
		before := c.out.Writes()
		c.Hold()
		c.Send(seqFrame("c", uint64(i)))
		if c.out.Writes() != before {
			t.Fatalf("round %d: a held frame was written before Release", i)
		}
		c.Release(NewFrame(map[string]any{"type": "ack", "id": strconv.Itoa(i)}))
		if c.out.Writes()-before == 1 {
			released++
		}
		typing := NewFrame(map[string]any{"type": "typing", "n": i})
		typing.Stream = true
		before = c.out.Writes()
		c.Send(typing)
		if c.out.Writes()-before == 1 {
			streamed++
		}
		for _, want := range []string{`"seq":` + strconv.Itoa(i), `"id":"` + strconv.Itoa(i) + `"`, `"n":` + strconv.Itoa(i)} {
			_, data, err := cl.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), want) {
				t.Fatalf("round %d: %s, want %s", i, data, want)
			}
		}
	}
	if released < rounds*4/5 || streamed < rounds*4/5 {
		t.Fatalf("of %d rounds, Release wrote its frames itself in %d, Send the typing frame in %d", rounds, released, streamed)
	}
}
