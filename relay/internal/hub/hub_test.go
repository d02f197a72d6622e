package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/protocol"
)

// pair returns a started server-side Conn and the client end of it.
func pair(t *testing.T, opts ConnOptions) (*Conn, *websocket.Conn) {
	t.Helper()
	c, cl := unstarted(t, opts)
	c.Start()
	return c, cl
}

// unstarted returns a Conn made by Accept that has not been started (its
// writer is not running: what is sent waits in the queue) and the client
// end of it. The server side reads, as every session does: pongs are read
// by its reader.
func unstarted(t *testing.T, opts ConnOptions) (*Conn, *websocket.Conn) {
	t.Helper()
	got := make(chan *Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil, "test", opts)
		if err != nil {
			t.Error(err)
			return
		}
		got <- c
		for {
			if _, err := c.Read(context.Background()); err != nil {
				break
			}
		}
		c.Close(websocket.StatusNormalClosure, "")
		c.Wait()
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.SetReadLimit(1 << 20)
	t.Cleanup(func() { cl.CloseNow() })
	c := <-got
	t.Cleanup(func() { c.Close(websocket.StatusNormalClosure, "") })
	return c, cl
}

func seqFrame(conv string, seq uint64) Frame {
	f := NewFrame(map[string]any{"type": "message", "conversation_id": conv, "seq": seq})
	f.Conv, f.Seq = conv, seq
	return f
}

// Watch while messages are being committed and published: the client gets
// every seq once, in order — the live frames that race the history read are
// held back until the replay is out.
func TestWatchReplayRacesLivePublishes(t *testing.T) {
	for round := range 20 {
		h := New()
		c, cl := pair(t, ConnOptions{Queue: 4096, WriteTimeout: 5 * time.Second, PingInterval: time.Minute, ReadLimit: 1 << 16})
		if !h.Register(c) {
			t.Fatal("register")
		}
		const conv, total = "conv", 300
		var committed atomic.Uint64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the store's writer: commit, then publish
			defer wg.Done()
			for i := uint64(1); i <= total; i++ {
				committed.Store(i)
				h.Publish("t", seqFrame(conv, i))
				if i%16 == 0 {
					time.Sleep(time.Duration(round%3) * 50 * time.Microsecond)
				}
			}
		}()
		time.Sleep(time.Duration(round) * 20 * time.Microsecond)
		err := h.Watch(c, "t", conv, func() ([]Frame, error) {
			var fs []Frame
			for i := uint64(1); i <= committed.Load(); i++ {
				fs = append(fs, seqFrame(conv, i))
			}
			return fs, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for want := uint64(1); want <= total; want++ {
			_, data, err := cl.Read(ctx)
			if err != nil {
				t.Fatalf("round %d: reading seq %d: %v", round, want, err)
			}
			var m struct{ Seq uint64 }
			json.Unmarshal(data, &m)
			if m.Seq != want {
				t.Fatalf("round %d: got seq %d, want %d", round, m.Seq, want)
			}
		}
		cancel()
		h.Deregister(c)
	}
}

func TestPublishNeverBlocksOnAFullQueue(t *testing.T) {
	h := New()
	c, _ := pair(t, ConnOptions{Queue: 8, WriteTimeout: time.Second, PingInterval: time.Minute, ReadLimit: 1 << 16})
	h.Register(c)
	h.Subscribe("t", c)
	big := NewFrame(map[string]string{"x": strings.Repeat("y", 1<<15)})
	done := make(chan struct{})
	go func() {
		for range 10000 {
			h.Publish("t", big)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publish blocked on a reader that does not read")
	}
	select {
	case <-c.Closing():
	case <-time.After(5 * time.Second):
		t.Fatal("slow connection not closed")
	}
	if c.CloseCode() != 4008 {
		t.Errorf("close code %d, want 4008", c.CloseCode())
	}
}

func TestMergeDeltas(t *testing.T) {
	d := func(stream string, i int, text string, done bool) Frame {
		return DeltaFrame(protocol.Delta{Type: "delta", ConversationID: "c", StreamID: stream, Index: i, Text: text, Done: done})
	}
	msg := seqFrame("c", 9)
	tests := []struct {
		name string
		in   []Frame
		want []string // "stream:index:text", or "msg"
	}{
		{"one piece", []Frame{d("s", 1, "a", false)}, []string{"s:1:a"}},
		{"a run merges into its last index", []Frame{d("s", 1, "a", false), d("s", 2, "b", false), d("s", 3, "c", false)}, []string{"s:3:abc"}},
		{"a message breaks the run", []Frame{d("s", 1, "a", false), msg, d("s", 2, "b", false)}, []string{"s:1:a", "msg", "s:2:b"}},
		{"another stream breaks the run", []Frame{d("s", 1, "a", false), d("t", 1, "x", false), d("s", 2, "b", false)}, []string{"s:1:a", "t:1:x", "s:2:b"}},
		{"done is never merged", []Frame{d("s", 1, "a", false), d("s", 2, "", true)}, []string{"s:1:a", "s:2:"}},
		{"a snapshot (index 0) is never merged", []Frame{d("s", 0, "abc", false), d("s", 4, "d", false)}, []string{"s:0:abc", "s:4:d"}},
		{"a gap is not merged", []Frame{d("s", 1, "a", false), d("s", 3, "c", false)}, []string{"s:1:a", "s:3:c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range merge(tt.in) {
				if f.Delta == nil {
					got = append(got, "msg")
					continue
				}
				var wire protocol.Delta
				json.Unmarshal(f.Data, &wire)
				if wire != *f.Delta {
					t.Errorf("frame data %+v does not match its delta %+v", wire, *f.Delta)
				}
				got = append(got, fmt.Sprintf("%s:%d:%s", wire.StreamID, wire.Index, wire.Text))
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	// A batch with nothing to merge (every chat burst) is written as it
	// is: merge allocated a copy of each batch.
	batch := []Frame{msg, seqFrame("c", 10), d("s", 1, "a", false), d("t", 2, "b", false)}
	if n := testing.AllocsPerRun(100, func() { merge(batch) }); n != 0 {
		t.Errorf("merge of a batch with nothing to merge: %v allocations, want 0", n)
	}
}

// An idle connection keeps no writer goroutine: one runs only while frames
// wait.
func TestWriterOnlyWhileFramesWait(t *testing.T) {
	c, cl := pair(t, ConnOptions{Queue: 64, WriteTimeout: time.Second, PingInterval: time.Minute, ReadLimit: 1 << 16})
	idle := func() bool { c.mu.Lock(); defer c.mu.Unlock(); return !c.draining }
	if !idle() {
		t.Fatal("a writer runs with nothing to write")
	}
	for i := range 10 {
		c.Send(seqFrame("c", uint64(i+1)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 10 {
		if _, _, err := cl.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !idle() {
		if time.Now().After(deadline) {
			t.Fatal("the writer did not exit once the queue was empty")
		}
		time.Sleep(time.Millisecond)
	}
}
