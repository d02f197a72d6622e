package visitor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/origin"
	"github.com/kefuhq/kefu/relay/protocol"
)

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestHelloIssuesTokenAndAck(t *testing.T) {
	rl := newRelay(t, defaultOptions())
	r := rl.raw(nil)
	w := r.hello()
	tok, _ := w["token"].(string)
	if len(tok) < 22 { // 128 bits in base64 is at least 22 characters
		t.Fatalf("token %q too short", tok)
	}
	if w["resume"] != protocol.ResumeNew || w["seq"] != float64(0) || w["conversation_id"] == "" {
		t.Errorf("welcome = %v", w)
	}
	r.send(`{"type":"message","id":"m1","text":"hello"}`)
	ack := r.next("ack")
	if ack["id"] != "m1" || ack["seq"] != float64(1) {
		t.Errorf("ack = %v", ack)
	}
	// The token is stored hashed: the raw token appears nowhere in the file.
	v, err := rl.store.VisitorByToken(hashToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	if v.ConversationID != w["conversation_id"] {
		t.Errorf("visitor conversation %s, welcome said %v", v.ConversationID, w["conversation_id"])
	}
}

func TestIdempotentResend(t *testing.T) {
	rl := newRelay(t, defaultOptions())
	r := rl.raw(nil)
	w := r.hello()
	r.send(`{"type":"message","id":"same","text":"once"}`)
	a1 := r.next("ack")
	r.send(`{"type":"message","id":"same","text":"once"}`)
	a2 := r.next("ack")
	if a1["seq"] != a2["seq"] || a2["duplicate"] != true {
		t.Errorf("first ack %v, resend ack %v", a1, a2)
	}
	msgs, _ := rl.store.Messages(w["conversation_id"].(string), 0, 0)
	if len(msgs) != 1 {
		t.Errorf("stored %d messages, want 1", len(msgs))
	}
}

func TestResumeAfterDisconnect(t *testing.T) {
	rl := newRelay(t, defaultOptions())
	ctx := ctx5(t)
	a, recA := rl.dial(client.Options{})
	for i := range 3 {
		if _, err := a.Send(ctx, fmt.Sprint("before ", i)); err != nil {
			t.Fatal(err)
		}
	}
	recA.waitFor(t, 3)
	token, conv, last := a.State()
	a.Close()

	// While the first tab is gone, a second tab of the same visitor talks.
	b, _ := rl.dial(client.Options{Token: token})
	for i := range 4 {
		if _, err := b.Send(ctx, fmt.Sprint("while away ", i)); err != nil {
			t.Fatal(err)
		}
	}
	// The first tab comes back from where it was: exactly the 4 it missed.
	a2, rec2 := rl.dial(client.Options{Token: token, ConversationID: conv, LastSeq: last})
	got := rec2.waitFor(t, 4)
	for i, m := range got {
		if m.Seq != last+uint64(i)+1 || m.Text != fmt.Sprint("while away ", i) {
			t.Errorf("replayed %d: seq %d %q", i, m.Seq, m.Text)
		}
	}
	if _, err := a2.Send(ctx, "back"); err != nil {
		t.Fatal(err)
	}
	if got := rec2.waitFor(t, 5); len(got) != 5 || got[4].Text != "back" {
		t.Errorf("after resume got %d messages", len(got))
	}
}

func TestResumeNotHonouredIsExplicit(t *testing.T) {
	rl := newRelay(t, defaultOptions())
	r := rl.raw(nil)
	w := r.hello()
	tok, conv := w["token"].(string), w["conversation_id"].(string)
	r.send(`{"type":"message","id":"m1","text":"one"}`)
	r.next("ack")
	tests := []struct {
		name  string
		hello string
		want  string
	}{
		{name: "position in the future", hello: fmt.Sprintf(`{"type":"hello","token":%q,"last_seq":99}`, tok), want: protocol.ResumeReset},
		{name: "other conversation", hello: fmt.Sprintf(`{"type":"hello","token":%q,"conversation_id":"zzzzzzzzzzzzzzzz","last_seq":1}`, tok), want: protocol.ResumeReset},
		{name: "unknown token", hello: `{"type":"hello","token":"not-a-token-we-issued","last_seq":1}`, want: protocol.ResumeReset},
		{name: "valid position", hello: fmt.Sprintf(`{"type":"hello","token":%q,"conversation_id":%q,"last_seq":1}`, tok, conv), want: protocol.ResumeOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r2 := rl.raw(nil)
			r2.send(tt.hello)
			w2 := r2.next("welcome")
			if w2["resume"] != tt.want {
				t.Fatalf("resume = %v, want %s", w2["resume"], tt.want)
			}
			if tt.want == protocol.ResumeReset && tt.name != "unknown token" {
				// A reset replays from the start.
				m := r2.next("message")
				if m["seq"] != float64(1) {
					t.Errorf("reset replay starts at %v", m["seq"])
				}
			}
			if tt.name == "unknown token" && (w2["token"] == "" || w2["token"] == nil) {
				t.Error("unknown token must get a fresh one")
			}
		})
	}
}

func TestThreeTabsEachGetEveryMessageOnceInOrder(t *testing.T) {
	rl := newRelay(t, defaultOptions())
	ctx := ctx5(t)
	first, _ := rl.dial(client.Options{})
	token, _, _ := first.State()
	tabs := []*client.Client{first}
	recs := []*recorder{}
	for range 3 {
		c, rec := rl.dial(client.Options{Token: token})
		tabs = append(tabs, c)
		recs = append(recs, rec)
	}
	const each = 20
	var wg sync.WaitGroup
	for i, c := range tabs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				if _, err := c.Send(ctx, fmt.Sprintf("tab %d msg %d", i, j)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	total := len(tabs) * each
	for i, rec := range recs {
		got := rec.waitFor(t, total)
		if len(got) != total {
			t.Errorf("tab %d got %d, want %d", i, len(got), total)
		}
		for k, m := range got {
			if m.Seq != uint64(k+1) {
				t.Fatalf("tab %d: message %d has seq %d", i, k, m.Seq)
			}
		}
	}
}

// A reader that stops reading is cut off (4008) without holding up anyone:
// the fast tab gets every message while the stalled one still reads nothing.
func TestStalledReaderCutOffFastOneUnaffected(t *testing.T) {
	opts := defaultOptions()
	opts.Conn.Queue = 8
	opts.Conn.WriteTimeout = time.Second // room for the fast reader on a loaded box
	opts.MaxMessageBytes = 8000
	opts.Conn.ReadLimit = 16384
	rl := newRelay(t, opts)
	// 600 durable sends: 5 s ran out once on a loaded two-core box.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	sender, _ := rl.dial(client.Options{})
	token, _, _ := sender.State()
	_, fast := rl.dial(client.Options{Token: token})

	stalled := rl.raw(nil)
	stalled.send(fmt.Sprintf(`{"type":"hello","token":%q,"last_seq":0}`, token))
	stalled.next("welcome")
	// From here the stalled socket is never read until the end.

	big := strings.Repeat("x", 7000)
	const n = 600 // ~4 MB: more than loopback socket buffers hold
	for i := range n {
		if _, err := sender.Send(ctx, fmt.Sprint(i, big)); err != nil {
			t.Fatal(err)
		}
	}
	got := fast.waitFor(t, n)
	if len(got) != n {
		t.Fatalf("fast reader got %d of %d", len(got), n)
	}
	if code := stalled.closed(); code != protocol.CloseSlow && code != -1 {
		t.Errorf("stalled reader closed with %d, want %d (or a dropped socket)", code, protocol.CloseSlow)
	}
	deadline := time.Now().Add(5 * time.Second)
	for testutilCount(rl, "visitor", "4008") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no close with 4008 recorded in the metrics")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBadFrames(t *testing.T) {
	tests := []struct {
		name      string
		frame     string
		binary    bool
		wantCode  protocol.Code
		wantClose websocket.StatusCode
	}{
		{name: "not json", frame: `hello`, wantCode: protocol.CodeBadFrame},
		{name: "unknown type", frame: `{"type":"nuke"}`, wantCode: protocol.CodeUnknownType},
		{name: "unknown field", frame: `{"type":"typing","on":true,"x":1}`, wantCode: protocol.CodeUnknownField},
		{name: "duplicate key", frame: `{"type":"message","id":"a","id":"b","text":"x"}`, wantCode: protocol.CodeDuplicateKey},
		{name: "wrong type", frame: `{"type":"message","id":"a","text":5}`, wantCode: protocol.CodeBadField},
		{name: "too long", frame: `{"type":"message","id":"long","text":"` + strings.Repeat("é", 2049) + `"}`, wantCode: protocol.CodeMessageTooLong},
		{name: "second hello", frame: `{"type":"hello","last_seq":0}`, wantCode: protocol.CodeBadFrame},
		{name: "invalid utf8", frame: "{\"type\":\"message\",\"id\":\"a\",\"text\":\"\xc3\x28\"}", wantClose: protocol.CloseInvalidUTF8},
		{name: "binary frame", frame: `{"type":"typing","on":true}`, binary: true, wantClose: protocol.CloseUnsupportedData},
		{name: "oversized frame", frame: `{"type":"message","id":"a","text":"` + strings.Repeat("a", 20000) + `"}`, wantClose: protocol.CloseTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rl := newRelay(t, defaultOptions())
			r := rl.raw(nil)
			w := r.hello()
			conv := w["conversation_id"].(string)
			typ := websocket.MessageText
			if tt.binary {
				typ = websocket.MessageBinary
			}
			if err := r.conn.Write(ctx5(t), typ, []byte(tt.frame)); err != nil {
				t.Fatal(err)
			}
			if tt.wantClose != 0 {
				if code := r.closed(); code != tt.wantClose {
					t.Errorf("close code %d, want %d", code, tt.wantClose)
				}
			} else {
				e := r.next("error")
				if e["code"] != string(tt.wantCode) || e["message"] == "" {
					t.Errorf("error frame %v, want code %s", e, tt.wantCode)
				}
				if tt.name == "too long" && e["id"] != "long" {
					t.Errorf("error must name the message id: %v", e)
				}
				// The connection stays usable.
				r.send(`{"type":"message","id":"ok","text":"still here"}`)
				if a := r.next("ack"); a["seq"] != float64(1) {
					t.Errorf("ack after bad frame: %v", a)
				}
			}
			msgs, _ := rl.store.Messages(conv, 0, 0)
			for _, m := range msgs {
				if m.ClientID != "ok" {
					t.Errorf("bad frame stored something: %+v", m)
				}
			}
		})
	}
}

func TestHelloTimeout(t *testing.T) {
	opts := defaultOptions()
	opts.HelloTimeout = 100 * time.Millisecond
	rl := newRelay(t, opts)
	r := rl.raw(nil)
	if code := r.closed(); code != protocol.CloseHelloTimeout {
		t.Errorf("close code %d, want %d", code, protocol.CloseHelloTimeout)
	}
}

func TestMessageBeforeHello(t *testing.T) {
	rl := newRelay(t, defaultOptions())
	r := rl.raw(nil)
	r.send(`{"type":"message","id":"a","text":"sneaky"}`)
	if e := r.next("error"); e["code"] != string(protocol.CodeHelloFirst) {
		t.Errorf("got %v", e)
	}
	if w := r.hello(); w["seq"] != float64(0) {
		t.Errorf("nothing may be stored before hello: %v", w)
	}
}

func TestOrigins(t *testing.T) {
	opts := defaultOptions()
	opts.Origins = origin.NewPolicy([]string{"shop.example.com", "*.example.org", "https://secure.example.net"})
	rl := newRelay(t, opts)
	tests := []struct {
		origin string
		ok     bool
	}{
		{"https://shop.example.com", true},
		{"http://shop.example.com", true},
		{"https://a.example.org", true},
		{"https://secure.example.net", true},
		{"http://secure.example.net", false},
		{"https://evil.example.com", false},
		{"https://example.org.evil.com", false},
		{"null", false},
		{"", true}, // not a browser page
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			ctx := ctx5(t)
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			conn, resp, err := websocket.Dial(ctx, rl.url, &websocket.DialOptions{HTTPHeader: h})
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				conn.CloseNow()
				return
			}
			if err == nil {
				conn.CloseNow()
				t.Fatal("accepted")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("want 403, got %v", resp)
			}
			var body struct{ Error struct{ Code string } }
			json.NewDecoder(resp.Body).Decode(&body)
			if body.Error.Code != string(protocol.CodeOriginNotAllowed) {
				t.Errorf("error code %q", body.Error.Code)
			}
		})
	}
}

func TestConnectionsPerIP(t *testing.T) {
	opts := defaultOptions()
	opts.MaxConnsPerIP = 2
	rl := newRelay(t, opts)
	a := rl.raw(nil)
	rl.raw(nil)
	_, resp, err := websocket.Dial(ctx5(t), rl.url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third connection: err %v resp %v, want 429", err, resp)
	}
	a.conn.Close(websocket.StatusNormalClosure, "")
	// The slot frees once the relay has seen the close.
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, _, err := websocket.Dial(ctx5(t), rl.url, nil)
		if err == nil {
			conn.CloseNow()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot never freed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRateLimitThenFlood(t *testing.T) {
	opts := defaultOptions()
	opts.RatePerConn = 1
	opts.RatePerVisitor = 1
	rl := newRelay(t, opts)
	r := rl.raw(nil)
	r.hello()
	// Burst is 2; the third in quick succession is refused, not stored.
	for i := range 3 {
		r.send(fmt.Sprintf(`{"type":"message","id":"m%d","text":"hi"}`, i))
	}
	r.next("ack")
	r.next("ack")
	if e := r.next("error"); e["code"] != string(protocol.CodeRateLimited) || e["id"] != "m2" {
		t.Errorf("third message: %v", e)
	}
	// Ignoring the errors and hammering on ends the connection.
	for i := range 200 {
		if err := r.conn.Write(ctx5(t), websocket.MessageText, []byte(fmt.Sprintf(`{"type":"message","id":"f%d","text":"x"}`, i))); err != nil {
			break
		}
	}
	if code := r.closed(); code != protocol.CloseFlood {
		t.Errorf("close code %d, want %d", code, protocol.CloseFlood)
	}
}

// The Go client resends a rate-limited message until it is stored, once.
func TestClientRetriesRateLimited(t *testing.T) {
	opts := defaultOptions()
	opts.RatePerConn = 20
	opts.RatePerVisitor = 20
	rl := newRelay(t, opts)
	c, rec := rl.dial(client.Options{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	const n = 100
	for i := range n {
		if _, err := c.Send(ctx5(t), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	got := rec.waitFor(t, n)
	for i, m := range got {
		if m.Text != fmt.Sprint(i) {
			t.Fatalf("message %d is %q", i, m.Text)
		}
	}
	if limited := testutilCount(rl, "", string(protocol.CodeRateLimited)); limited == 0 {
		t.Error("test did not exercise the rate limit")
	}
}

func TestTypingReachesOtherTabs(t *testing.T) {
	rl := newRelay(t, defaultOptions())
	a := rl.raw(nil)
	w := a.hello()
	b := rl.raw(nil)
	b.send(fmt.Sprintf(`{"type":"hello","token":%q,"last_seq":0}`, w["token"]))
	b.next("welcome")
	a.send(`{"type":"typing","on":true}`)
	if tf := b.next("typing"); tf["from"] != protocol.FromVisitor || tf["on"] != true {
		t.Errorf("typing frame %v", tf)
	}
}

// A peer that stops answering pings is freed after one missed interval.
func TestDeadPeerFreed(t *testing.T) {
	opts := defaultOptions()
	opts.Conn.PingInterval = 100 * time.Millisecond
	rl := newRelay(t, opts)
	r := rl.raw(nil)
	r.hello()
	// From now on nothing reads this socket, so no pong is ever sent.
	if rl.hub.Len() != 1 {
		t.Fatalf("live connections = %d, want 1", rl.hub.Len())
	}
	deadline := time.Now().Add(5 * time.Second)
	for rl.hub.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("dead peer still held")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestIdentifyAndLateFingerprint(t *testing.T) {
	rl := newRelay(t, defaultOptions())
	r := rl.raw(nil)
	r.hello()
	r.send(`{"type":"identify","traits":{"name":"Ann","plan":"pro"}}`)
	r.send(`{"type":"identify","traits":{"email":"ann@example.com"}}`)
	r.send(`{"type":"fingerprint","fingerprint":"` + strings.Repeat("0a", 32) + `"}`)
	r.send(`{"type":"identify","traits":{"Bad Key":"x"}}`)
	if e := r.next("error"); e["code"] != string(protocol.CodeBadField) {
		t.Errorf("bad trait: %v", e)
	}
	r.send(`{"type":"message","id":"m","text":"hi"}`)
	r.next("ack")
	vs, _ := rl.store.Conversations(nil)
	v, err := rl.store.Visitor(vs[0].VisitorID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Traits["name"] != "Ann" || v.Traits["plan"] != "pro" || v.Traits["email"] != "ann@example.com" || len(v.Traits) != 3 {
		t.Errorf("traits %v", v.Traits)
	}
}

// New visitors are rate limited per address (each is a durable record);
// a known visitor reconnecting is not.
func TestNewVisitorsPerAddress(t *testing.T) {
	opts := defaultOptions()
	opts.RatePerIP = 0.01 // a burst of 1, then nothing for a long while
	rl := newRelay(t, opts)
	first := rl.raw(nil)
	w := first.hello()
	second := rl.raw(nil)
	second.send(`{"type":"hello","last_seq":0}`)
	if e := second.next("error"); e["code"] != string(protocol.CodeRateLimited) {
		t.Errorf("second new visitor: %v", e)
	}
	if code := second.closed(); code != protocol.CloseFlood {
		t.Errorf("close code %d, want %d", code, protocol.CloseFlood)
	}
	again := rl.raw(nil)
	again.send(fmt.Sprintf(`{"type":"hello","token":%q,"last_seq":0}`, w["token"]))
	if w2 := again.next("welcome"); w2["resume"] != protocol.ResumeOK {
		t.Errorf("returning visitor: %v", w2)
	}
}
