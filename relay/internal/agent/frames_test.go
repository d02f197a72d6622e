package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/protocol"
)

// flood writes frame as fast as the socket takes it, up to n times.
func (c *console) flood(n int, frame string) int {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range n {
		if err := c.conn.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			return i
		}
	}
	return n
}

// closed waits for the socket to end and returns the relay's close code.
func (c *console) closed() websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.done:
		return c.code
	case <-time.After(15 * time.Second):
		c.t.Fatal("agent socket still open")
		return 0
	}
}

// Every frame type the agent socket accepts has a rate; a flood of any of
// them is refused with rate_limited, then cut with 4029, as a visitor's
// message flood is.
func TestAgentFloodsCut(t *testing.T) {
	r := relay(t, nil)
	p := signIn(t, r, "admin", adminPassword)
	v := newVisitor(t, r)
	v.send("hello")
	conv := v.conv
	frames := map[string]string{
		"message":  `{"type":"message","conversation_id":"CONV","id":"same-id","text":"hi"}`,
		"typing":   `{"type":"typing","conversation_id":"CONV","on":false}`,
		"watch":    `{"type":"watch","conversation_id":"CONV","last_seq":0}`,
		"unwatch":  `{"type":"unwatch","conversation_id":"CONV"}`,
		"take":     `{"type":"take","conversation_id":"CONV"}`,
		"transfer": `{"type":"transfer","conversation_id":"CONV","to":"queue"}`,
		"close":    `{"type":"close","conversation_id":"CONV"}`,
		"presence": `{"type":"presence","status":"online"}`,
	}
	for name, tmpl := range frames {
		t.Run(name, func(t *testing.T) {
			p.t = t
			con := p.console()
			sent := con.flood(20000, strings.ReplaceAll(tmpl, "CONV", conv))
			if code := con.closed(); code != protocol.CloseFlood {
				t.Fatalf("after %d %s frames: close code %d, want %d", sent, name, code, protocol.CloseFlood)
			}
		})
	}
	p.t = t
	// The visitor's conversation is intact: the duplicate replies were one.
	msgs, err := r.Store.Messages(conv, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	replies := 0
	for _, m := range msgs {
		if m.ClientID == "same-id" {
			replies++
		}
	}
	if replies != 1 {
		t.Errorf("the flooded reply was stored %d times", replies)
	}
}

// The agent socket's close codes, as docs/protocol.md lists them: 4000
// for no hello in time, 1008 for garbage (before hello too), 4001 when
// the session ends (TestLogoutClosesAgentSocketFast), 4029 for floods
// (TestAgentFloodsCut).
func TestAgentCloseCodes(t *testing.T) {
	r := relay(t, func(c *config.Config) { c.HelloTimeout = 300 * time.Millisecond })
	p := signIn(t, r, "admin", adminPassword)

	silent := r.DialAgent(t, p.http.Jar)
	defer silent.CloseNow()
	if code := readUntilClosed(t, silent); code != protocol.CloseHelloTimeout {
		t.Errorf("no hello: close code %d, want %d", code, protocol.CloseHelloTimeout)
	}

	garbage := r.DialAgent(t, p.http.Jar)
	defer garbage.CloseNow()
	for range 25 {
		if err := garbage.Write(context.Background(), websocket.MessageText, []byte(`{"type":"nope"}`)); err != nil {
			break
		}
	}
	if code := readUntilClosed(t, garbage); code != protocol.ClosePolicy {
		t.Errorf("garbage before hello: close code %d, want %d", code, protocol.ClosePolicy)
	}

	con := p.console()
	con.flood(25, `{"type":"watch","conversation_id":"no-such-conversation","last_seq":0}`)
	if code := con.closed(); code != protocol.ClosePolicy {
		t.Errorf("invalid frames after hello: close code %d, want %d", code, protocol.ClosePolicy)
	}
}

func readUntilClosed(t *testing.T, conn *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if _, _, err := conn.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("socket still open")
			}
			return websocket.CloseStatus(err)
		}
	}
}
