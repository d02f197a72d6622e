package visitor

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// closeCases provoke each close code of docs/protocol.md on the visitor
// socket. peer is the code the client reads (0: the peer cannot see it, it
// is gone or not reading); the relay's metrics must record want either way.
var closeCases = []struct {
	want websocket.StatusCode
	name string
	opts func(*Options)
	// provoke does it and returns the code the client saw (0 if none).
	provoke func(t *testing.T, rl *relay) websocket.StatusCode
}{
	{protocol.CloseNormal, "the client ends the session", nil, func(t *testing.T, rl *relay) websocket.StatusCode {
		r := rl.raw(nil)
		r.hello()
		if err := r.conn.Close(websocket.StatusNormalClosure, "bye"); err != nil {
			t.Errorf("close handshake: %v", err)
		}
		return 0
	}},
	{protocol.CloseGoingAway, "the peer stops answering pings", func(o *Options) { o.Conn.PingInterval = 100 * time.Millisecond }, func(t *testing.T, rl *relay) websocket.StatusCode {
		rl.raw(nil).hello() // and never read again: no pong
		return 0
	}},
	{protocol.CloseUnsupportedData, "a binary frame", nil, func(t *testing.T, rl *relay) websocket.StatusCode {
		r := rl.raw(nil)
		r.hello()
		r.conn.Write(ctx5(t), websocket.MessageBinary, []byte(`{"type":"typing","on":true}`))
		return r.closed()
	}},
	{protocol.CloseInvalidUTF8, "a text frame that is not UTF-8", nil, func(t *testing.T, rl *relay) websocket.StatusCode {
		r := rl.raw(nil)
		r.hello()
		r.send("{\"type\":\"message\",\"id\":\"a\",\"text\":\"\xc3\x28\"}")
		return r.closed()
	}},
	{protocol.ClosePolicy, "more than 20 invalid frames in a row", nil, func(t *testing.T, rl *relay) websocket.StatusCode {
		r := rl.raw(nil)
		r.hello()
		for range 21 {
			r.send(`{"type":"message","ID":"a","text":"x"}`)
		}
		return r.closed()
	}},
	{protocol.CloseTooBig, "a frame over --max-frame-bytes", nil, func(t *testing.T, rl *relay) websocket.StatusCode {
		r := rl.raw(nil)
		r.hello()
		r.send(`{"type":"message","id":"a","text":"` + strings.Repeat("a", 20000) + `"}`)
		return r.closed()
	}},
	{protocol.CloseInternal, "the session cannot start: the database is gone", nil, func(t *testing.T, rl *relay) websocket.StatusCode {
		rl.storeClosed = true
		rl.store.Close()
		r := rl.raw(nil)
		r.send(`{"type":"hello","last_seq":0}`)
		if e := r.next("error"); e["code"] != string(protocol.CodeStorage) {
			t.Errorf("error before 1011: %v", e)
		}
		return r.closed()
	}},
	{protocol.CloseRestart, "the relay is restarting (as on SIGTERM: TestShutdownClosesSocketsAndFinishesCommits in relay/cmd/kefu)", nil, func(t *testing.T, rl *relay) websocket.StatusCode {
		r := rl.raw(nil)
		r.hello()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		go rl.hub.Shutdown(ctx, protocol.CloseRestart, "server restarting")
		return r.closed()
	}},
	{protocol.CloseHelloTimeout, "no hello in time", func(o *Options) { o.HelloTimeout = 100 * time.Millisecond }, func(t *testing.T, rl *relay) websocket.StatusCode {
		return rl.raw(nil).closed()
	}},
	{protocol.CloseSlow, "the send queue fills up", func(o *Options) { o.Conn.Queue = 8 }, func(t *testing.T, rl *relay) websocket.StatusCode {
		r := rl.raw(nil)
		conv := r.hello()["conversation_id"].(string)
		// The peer reads nothing for now: once its window is in flight the
		// writer waits for a pong, and the queue behind it fills.
		big := strings.Repeat("x", 1000)
		for range 200 {
			rl.hub.Publish(chat.Topic(conv), hub.NewFrame(protocol.TypingOut{Type: protocol.TypeTyping, ConversationID: conv, From: protocol.FromAgent, Author: big}))
		}
		return r.closed()
	}},
	{protocol.CloseSwitched, "a verified user whose conversation is on another device", func(o *Options) { o.IdentitySecret = testIdentitySecret }, func(t *testing.T, rl *relay) websocket.StatusCode {
		identify := fmt.Sprintf(`{"type":"identify","traits":{"user_id":"u-1","user_hash":%q}}`, sign(testIdentitySecret, "u-1"))
		first := rl.raw(nil)
		first.hello()
		first.send(identify)
		deadline := time.Now().Add(time.Minute)
		for {
			if _, err := rl.store.VisitorByToken(store.UserKey("u-1")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the first device never became the user's")
			}
			time.Sleep(10 * time.Millisecond)
		}
		second := rl.raw(nil)
		second.hello()
		second.send(identify)
		return second.closed()
	}},
	{protocol.CloseFlood, "far over the rate after repeated rate_limited errors", func(o *Options) { o.RatePerConn = 1 }, func(t *testing.T, rl *relay) websocket.StatusCode {
		r := rl.raw(nil)
		r.hello()
		r.flood(5000, func(i int) string { return fmt.Sprintf(`{"type":"message","id":"m%d","text":"x"}`, i) })
		return r.closed()
	}},
}

// Each close code the protocol documents, provoked on a real socket: the
// client reads that code (when it still can), and the relay counts it.
// 4001 is the agent socket's (TestLogoutClosesAgentSocketFast); 4008 for a
// socket that stops reading is also TestNonReadingSocketCut.
func TestCloseCodes(t *testing.T) {
	for _, tc := range closeCases {
		t.Run(fmt.Sprintf("%d %s", tc.want, tc.name), func(t *testing.T) {
			opts := defaultOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			rl := newRelay(t, opts)
			if peer := tc.provoke(t, rl); peer != 0 && peer != tc.want {
				t.Errorf("the client read close code %d, want %d", peer, tc.want)
			}
			deadline := time.Now().Add(10 * time.Second)
			for testutilCount(rl, "visitor", fmt.Sprint(int(tc.want))) < 1 {
				if time.Now().After(deadline) {
					t.Fatalf("the relay recorded no close with %d", tc.want)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// The close-code table of docs/protocol.md and the codes tested here (and
// in the agent package) are the same set: neither can drift alone.
func TestCloseCodesMatchTheDocs(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)
	i := strings.Index(section, "## Close codes")
	if i < 0 {
		t.Fatal("docs/protocol.md has no Close codes section")
	}
	section = section[i:]
	if j := strings.Index(section[3:], "\n## "); j > 0 {
		section = section[:j+3]
	}
	var documented []int
	for _, m := range regexp.MustCompile(`(?m)^\| (\d{4}) \|`).FindAllStringSubmatch(section, -1) {
		var n int
		fmt.Sscan(m[1], &n)
		documented = append(documented, n)
	}
	tested := []int{int(protocol.CloseUnauthorized)} // the agent socket's, tested there
	for _, tc := range closeCases {
		tested = append(tested, int(tc.want))
	}
	sort.Ints(documented)
	sort.Ints(tested)
	if fmt.Sprint(documented) != fmt.Sprint(tested) {
		t.Errorf("docs/protocol.md lists close codes %v; tests provoke %v", documented, tested)
	}
}
