package visitor

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// flood writes frame(i) as fast as the socket takes them, up to n, and
// returns how many went out and how long it took. The relay cuts the
// connection at some point; writes after that fail.
func (r *raw) flood(n int, frame func(i int) string) (int, time.Duration) {
	r.t.Helper()
	start := time.Now()
	ctx := ctx5(r.t)
	for i := range n {
		if err := r.conn.Write(ctx, websocket.MessageText, []byte(frame(i))); err != nil {
			return i, time.Since(start)
		}
	}
	return n, time.Since(start)
}

// A typing flood is refused, then cut with 4029; the other tab gets no
// more typing frames than the rate lets through.
func TestTypingFloodCut(t *testing.T) {
	rl := newRelay(t, defaultOptions())
	a := rl.raw(nil)
	w := a.hello()
	b := rl.raw(nil)
	b.send(fmt.Sprintf(`{"type":"hello","token":%q,"last_seq":0}`, w["token"]))
	b.next("welcome")

	start := time.Now()
	sent, _ := a.flood(20000, func(int) string { return `{"type":"typing","on":false}` })
	if code := a.closed(); code != protocol.CloseFlood {
		t.Fatalf("after %d typing frames: close code %d, want %d", sent, code, protocol.CloseFlood)
	}
	took := time.Since(start) // the relay read them all within this
	// Everything a published was queued to b before b's own ack.
	b.send(`{"type":"message","id":"m1","text":"done"}`)
	typing := 0
	for {
		f := b.nextAny()
		if f["type"] == protocol.TypeTyping {
			typing++
		}
		if f["type"] == protocol.TypeAck {
			break
		}
	}
	// Burst 8, then 4 a second for as long as the relay was reading.
	if most := 8 + int(math.Ceil(4*took.Seconds())) + 1; typing > most {
		t.Errorf("the other tab got %d typing frames in %v; the rate allows %d", typing, took, most)
	}
	t.Logf("%d typing frames sent before the cut, %d passed on", sent, typing)
	// The close is counted as the relay's handler returns, which can be
	// after the client saw it.
	deadline := time.Now().Add(10 * time.Second)
	for testutilCount(rl, "visitor", "4029") < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling a counter
	}
	if n := testutilCount(rl, "visitor", "4029"); n != 1 {
		t.Errorf("4029 closes recorded: %v", n)
	}
}

// An identify flood costs at most a commit a second (changes coalesced,
// the last value wins), none when nothing changes; a fingerprint flood
// none at all. Each is cut with 4029 like any other flood.
func TestIdentifyAndFingerprintFloodsCostFewCommits(t *testing.T) {
	rl := newRelay(t, defaultOptions())
	a := rl.raw(nil)
	w := a.hello()
	token := w["token"].(string)
	visitorOf := func() map[string]string {
		convs, err := rl.store.Conversations(nil)
		if err != nil || len(convs) != 1 {
			t.Fatalf("conversations: %v %v", convs, err)
		}
		v, err := rl.store.Visitor(convs[0].VisitorID)
		if err != nil {
			t.Fatal(err)
		}
		return v.Traits
	}

	// Changing values as fast as the socket goes.
	base := rl.commits.Load()
	start := time.Now()
	sent, _ := a.flood(20000, func(i int) string { return fmt.Sprintf(`{"type":"identify","traits":{"n":"%d"}}`, i) })
	if code := a.closed(); code != protocol.CloseFlood {
		t.Fatalf("identify flood: close code %d, want %d", code, protocol.CloseFlood)
	}
	rl.waitIdle(t)
	commits := rl.commits.Load() - base
	// One at once, one a second while the flood lasted, one at the close.
	if most := 2 + int64(time.Since(start).Seconds()+1); commits > most {
		t.Errorf("%d identify frames cost %d commits, want at most %d", sent, commits, most)
	}
	t.Logf("%d identify frames: %d commits", sent, commits)
	last := visitorOf()["n"]
	if last == "" {
		t.Fatal("no trait stored")
	}

	// The same traits again and again: no commit at all.
	b := rl.raw(nil)
	b.send(fmt.Sprintf(`{"type":"hello","token":%q,"last_seq":0}`, token))
	b.next("welcome")
	base = rl.commits.Load()
	b.flood(20000, func(int) string { return fmt.Sprintf(`{"type":"identify","traits":{"n":%q}}`, last) })
	if code := b.closed(); code != protocol.CloseFlood {
		t.Fatalf("unchanged identify flood: close code %d, want %d", code, protocol.CloseFlood)
	}
	rl.waitIdle(t)
	if n := rl.commits.Load() - base; n != 0 {
		t.Errorf("identify frames that change nothing cost %d commits", n)
	}

	// Fingerprints are kept on the connection, never committed.
	c := rl.raw(nil)
	c.send(fmt.Sprintf(`{"type":"hello","token":%q,"last_seq":0}`, token))
	c.next("welcome")
	base = rl.commits.Load()
	c.flood(20000, func(i int) string {
		return fmt.Sprintf(`{"type":"fingerprint","fingerprint":"%064x"}`, i)
	})
	if code := c.closed(); code != protocol.CloseFlood {
		t.Fatalf("fingerprint flood: close code %d, want %d", code, protocol.CloseFlood)
	}
	rl.waitIdle(t)
	if n := rl.commits.Load() - base; n != 0 {
		t.Errorf("a fingerprint flood cost %d commits", n)
	}
}

// Identify frames within the rate lose nothing: a burst of changes is
// stored together, and traits sent just before a message are stored
// before it.
func TestIdentifyCoalescedNothingLost(t *testing.T) {
	rl := newRelay(t, defaultOptions())
	r := rl.raw(nil)
	r.hello()
	base := rl.commits.Load()
	start := time.Now()
	for i := range 10 {
		r.send(fmt.Sprintf(`{"type":"identify","traits":{"step":"%d","k%d":"v"}}`, i, i))
	}
	var traits map[string]string
	deadline := time.Now().Add(10 * time.Second)
	for {
		convs, _ := rl.store.Conversations(nil)
		v, err := rl.store.Visitor(convs[0].VisitorID)
		if err != nil {
			t.Fatal(err)
		}
		if traits = v.Traits; traits["step"] == "9" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("traits never reached the last step: %v", traits)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(traits) != 11 {
		t.Errorf("traits %v, want step and k0…k9", traits)
	}
	if n, most := rl.commits.Load()-base, 1+int64(math.Ceil(time.Since(start).Seconds())); n > most {
		t.Errorf("10 identify frames cost %d commits, want at most %d", n, most)
	}

	// Traits right before a message are stored by the time it is acked.
	r.send(`{"type":"identify","traits":{"plan":"pro"}}`)
	r.send(`{"type":"identify","traits":{"plan":"enterprise"}}`)
	r.send(`{"type":"message","id":"m1","text":"hi"}`)
	r.next("ack")
	convs, _ := rl.store.Conversations(nil)
	v, _ := rl.store.Visitor(convs[0].VisitorID)
	if v.Traits["plan"] != "enterprise" {
		t.Errorf("traits at the ack: %v", v.Traits)
	}
}

// Any frame over the overall rate is refused the same way, including
// frames that do not decode: alternating garbage with valid frames does
// not escape the 1008 rule's reset.
func TestMixedFloodCut(t *testing.T) {
	rl := newRelay(t, defaultOptions())
	r := rl.raw(nil)
	r.hello()
	r.flood(20000, func(i int) string {
		if i%2 == 0 {
			return `{"type":"nope"}`
		}
		return `{"type":"typing","on":false}`
	})
	if code := r.closed(); code != protocol.CloseFlood {
		t.Fatalf("close code %d, want %d", code, protocol.CloseFlood)
	}
}

// waitIdle waits until no visitor connection is left, so whatever their
// closing flushed is committed.
func (rl *relay) waitIdle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for rl.hub.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open", rl.hub.Len())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The ack is what json.Marshal writes for protocol.Ack.
func TestAckFrame(t *testing.T) {
	for _, tt := range []struct {
		id  string
		seq uint64
		dup bool
	}{{"m1", 1, false}, {`a "quoted" <id> é`, 18446744073709551615, true}, {"", 0, false}} {
		a := store.Appended{Messages: []store.Message{{Seq: tt.seq}}, Duplicate: []bool{tt.dup}}
		want, err := json.Marshal(ackOf(tt.id, a))
		if err != nil {
			t.Fatal(err)
		}
		if got := ackFrame(tt.id, a); string(got.Data) != string(want) {
			t.Errorf("ackFrame = %s, json.Marshal %s", got.Data, want)
		}
	}
}
