package cluster

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/protocol"
)

type ping struct {
	N int `json:"n"`
}

// inbox collects what a handler got.
type inbox struct {
	warm atomic.Bool
	mu   sync.Mutex
	got  []int
}

// add records n; -1 is a warm-up event, not recorded.
func (b *inbox) add(n int) {
	if n < 0 {
		b.warm.Store(true)
		return
	}
	b.mu.Lock()
	b.got = append(b.got, n)
	b.mu.Unlock()
}
func (b *inbox) list() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.got...)
}

func TestBusCarriesEventsToEveryOtherNodeInOrder(t *testing.T) {
	nodes := startNodes(t, 3)
	buses := make([]*Bus, 3)
	boxes := make([]*inbox, 3)
	for i, n := range nodes {
		buses[i], boxes[i] = NewBus(n, "kefu", testLog(t)), &inbox{}
		box := boxes[i]
		if err := buses[i].Handle("test.ping", func(data []byte, _ func(any)) {
			var p ping
			json.Unmarshal(data, &p)
			box.add(p.N)
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(buses[i].Close)
	}
	// Interest travels between servers in a moment: core NATS drops what
	// is published before it arrives (live events are best effort; what
	// matters is repeated or repaired from the store).
	eventually(t, "interest on the other nodes", 30*time.Second, func() bool {
		buses[0].Publish("test.ping", ping{N: -1})
		return boxes[1].warm.Load() && boxes[2].warm.Load()
	})
	for i := range 100 {
		buses[0].Publish("test.ping", ping{N: i})
	}
	for _, i := range []int{1, 2} {
		eventually(t, "events on the other nodes", 30*time.Second, func() bool { return len(boxes[i].list()) == 100 })
		for k, n := range boxes[i].list() {
			if n != k {
				t.Fatalf("node %d got event %d at position %d: out of order", i, n, k)
			}
		}
	}
	// A node's direct subject is its own interest, which travels like any
	// other: sent before it arrives, the event is dropped, so send until
	// one lands (the broadcast warm-up above does not warm it).
	eventually(t, "a direct event", 30*time.Second, func() bool {
		if l := boxes[2].list(); l[len(l)-1] == 1000 {
			return true
		}
		buses[1].Send(buses[2].ID(), "test.ping", ping{N: 1000})
		return false
	})
	if l := boxes[0].list(); len(l) != 0 {
		t.Errorf("the sender heard itself or a message to another node: %v", l)
	}
	if l := boxes[1].list(); len(l) != 100 {
		t.Errorf("node 1 got %d events, want only the 100 broadcast", len(l))
	}
}

func TestBusRequests(t *testing.T) {
	nodes := startNodes(t, 3)
	buses := make([]*Bus, 3)
	for i, n := range nodes {
		buses[i] = NewBus(n, "kefu", testLog(t))
		t.Cleanup(buses[i].Close)
		i := i
		// Only node 2 knows the answer; the others stay silent.
		buses[i].Handle("test.who", func(data []byte, reply func(any)) {
			if i == 2 {
				go reply(ping{N: 42})
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got ping
	eventually(t, "node 2's answer", 20*time.Second, func() bool {
		rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer rcancel()
		ok, err := buses[0].Request(rctx, "test.who", ping{}, &got)
		if err != nil {
			t.Fatal(err)
		}
		return ok && got.N == 42
	})
	ok, err := buses[0].Ask(ctx, buses[2].ID(), "test.who", ping{}, &got)
	if err != nil || !ok {
		t.Fatalf("Ask node 2 = %v, %v", ok, err)
	}
	// A node that stays silent is "no answer" once the context ends.
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if ok, err := buses[0].Ask(short, buses[1].ID(), "test.who", ping{}, &got); ok || err != nil {
		t.Errorf("a silent node: ok=%v err=%v, want false, nil", ok, err)
	}
	// Nobody listening at all is "no answer" at once.
	if ok, err := buses[0].Ask(ctx, "gone-abcdef", "test.who", ping{}, &got); ok || err != nil {
		t.Errorf("a node that is gone: ok=%v err=%v, want false, nil", ok, err)
	}
}

// sink is a hub subscriber that records frames.
type sink struct {
	hub.Endpoint
	mu     sync.Mutex
	frames []hub.Frame
}

func (s *sink) Send(f hub.Frame) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if string(f.Data) == `{"type":"warm-up"}` && len(s.frames) > 0 && string(s.frames[0].Data) == string(f.Data) {
		return true // one warm-up frame is enough
	}
	s.frames = append(s.frames, f)
	return true
}
func (s *sink) Close(websocket.StatusCode, string) {}
func (s *sink) got() []hub.Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hub.Frame(nil), s.frames...)
}

func TestHubLinkCarriesLiveFramesNotStoredOnes(t *testing.T) {
	nodes := startNodes(t, 2)
	hubs := make([]*hub.Hub, 2)
	for i, n := range nodes {
		link := NewHubLink(n, "kefu", testLog(t))
		hubs[i] = hub.NewLinked(link)
		if err := link.Start(hubs[i]); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(link.Close)
	}
	s := &sink{}
	hubs[1].Register(s)
	hubs[1].Subscribe("c:abc", s)
	warm := hub.NewFrame(map[string]string{"type": "warm-up"})
	eventually(t, "interest on the other node", 30*time.Second, func() bool {
		hubs[0].Publish("c:abc", warm)
		return len(s.got()) > 0
	})

	stored := hub.NewFrame(protocol.Message{Type: protocol.TypeMessage, ConversationID: "abc", Seq: 1, Text: "stored"})
	stored.Conv, stored.Seq = "abc", 1
	hubs[0].Publish("c:abc", stored) // each node delivers these from the stream
	typing := hub.NewFrame(protocol.TypingOut{Type: protocol.TypeTyping, ConversationID: "abc", From: "agent", On: true})
	typing.Conv = "abc"
	hubs[0].Publish("c:abc", typing)
	hubs[0].Publish("c:abc", hub.DeltaFrame(protocol.Delta{Type: protocol.TypeDelta, ConversationID: "abc", StreamID: "s1", Index: 1, Text: "Hel"}))
	hubs[0].Publish("c:other", typing) // nobody on node 1 listens

	eventually(t, "live frames on the other node", 30*time.Second, func() bool { return len(s.got()) >= 3 })
	got := s.got()[1:] // after the warm-up
	if len(got) != 2 {
		t.Fatalf("node 1 got %d frames, want typing and delta only", len(got))
	}
	if string(got[0].Data) != string(typing.Data) || got[0].Conv != "abc" {
		t.Errorf("typing arrived as %q (conv %q)", got[0].Data, got[0].Conv)
	}
	if d := got[1].Delta; d == nil || d.Text != "Hel" || d.StreamID != "s1" || d.Index != 1 {
		t.Errorf("delta arrived as %+v: it must stay mergeable", d)
	}
}

func TestDecodeFrameRefusesGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {0}, {0, 0, 9, 'a'}, append([]byte{1, 0, 0}, "not json"...)} {
		if _, err := decodeFrame(b); err == nil {
			t.Errorf("decodeFrame(%q) accepted garbage", b)
		}
	}
	f := hub.DeltaFrame(protocol.Delta{Type: protocol.TypeDelta, ConversationID: "c", StreamID: "s", Index: 3, Text: "x"})
	back, err := decodeFrame(encodeFrame(f))
	if err != nil || back.Conv != "c" || back.Delta == nil || back.Delta.Index != 3 || string(back.Data) != string(f.Data) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(encodeFrame(hub.DeltaFrame(protocol.Delta{Type: protocol.TypeDelta, ConversationID: "c", Text: "x"})))
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeFrame(b)
		if err == nil && len(fr.Conv) > len(b) {
			t.Fatal("conversation id longer than the input")
		}
	})
}
