package bot_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/internal/app/apptest"
)

// raw is a bare socket, for frames the Go client would never send.
type raw struct {
	t    *testing.T
	conn *websocket.Conn
	conv string
}

func dialRaw(t *testing.T, r *apptest.Relay) *raw {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, r.WS, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	x := &raw{t: t, conn: conn}
	x.send(`{"type":"hello","last_seq":0}`)
	x.conv = x.next("welcome")["conversation_id"].(string)
	return x
}

func (x *raw) send(s string) {
	x.t.Helper()
	if err := x.conn.Write(context.Background(), websocket.MessageText, []byte(s)); err != nil {
		x.t.Fatal(err)
	}
}

func (x *raw) next(typ string) map[string]any {
	x.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, data, err := x.conn.Read(ctx)
		if err != nil {
			x.t.Fatalf("waiting for %s: %v", typ, err)
		}
		var m map[string]any
		json.Unmarshal(data, &m)
		if m["type"] == typ {
			return m
		}
	}
}

func (x *raw) nextMessage() map[string]any { return x.next("message") }
