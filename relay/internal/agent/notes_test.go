package agent_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/internal/app/apptest"
)

// rawVisitor is the visitor's socket as the wire carries it: every frame
// kept as received.
type rawVisitor struct {
	t      *testing.T
	conn   *websocket.Conn
	mu     sync.Mutex
	frames []string
	ch     chan struct{}
	token  string
	conv   string
}

func dialRaw(t *testing.T, r *apptest.Relay, hello string) *rawVisitor {
	t.Helper()
	conn, _, err := websocket.Dial(context.Background(), r.WS, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := &rawVisitor{t: t, conn: conn, ch: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			v.mu.Lock()
			v.frames = append(v.frames, string(data))
			v.mu.Unlock()
			select {
			case v.ch <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { conn.CloseNow(); <-done })
	if err := conn.Write(context.Background(), websocket.MessageText, []byte(hello)); err != nil {
		t.Fatal(err)
	}
	w := v.wait(`"type":"welcome"`)
	var welcome struct {
		Token          string `json:"token"`
		ConversationID string `json:"conversation_id"`
	}
	json.Unmarshal([]byte(w), &welcome)
	v.token, v.conv = welcome.Token, welcome.ConversationID
	return v
}

// wait returns the first frame holding substr.
func (v *rawVisitor) wait(substr string) string {
	v.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		v.mu.Lock()
		for _, f := range v.frames {
			if strings.Contains(f, substr) {
				v.mu.Unlock()
				return f
			}
		}
		v.mu.Unlock()
		select {
		case <-v.ch:
		case <-deadline:
			v.t.Fatalf("the visitor's socket never carried %q", substr)
		}
	}
}

func (v *rawVisitor) all() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return strings.Join(v.frames, "\n")
}

// TestNoteNeverReachesTheVisitor: an internal note goes to every console
// watching, and to none of the visitor's ways of reading: the live
// socket, a replay after a reconnect, the HTTP list and event stream.
func TestNoteNeverReachesTheVisitor(t *testing.T) {
	r := relay(t, nil)
	const secret = "NOTE-refund-approved-7731"
	v := dialRaw(t, r, `{"type":"hello","last_seq":0}`)
	if err := v.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"message","id":"q1","text":"my cup arrived broken"}`)); err != nil {
		t.Fatal(err)
	}
	v.wait(`"type":"ack"`)
	mei := newAgent(t, r, "mei", "", 3).console()
	mei.send(`{"type":"watch","conversation_id":"` + v.conv + `","last_seq":0}`)
	mei.wait(msgIn(v.conv, "visitor", "my cup arrived broken"))
	mei.send(`{"type":"note","conversation_id":"` + v.conv + `","id":"n1","text":"` + secret + `"}`)
	note := mei.wait(func(m map[string]any) bool { return m["type"] == "note" && m["text"] == secret })
	if seq, _ := note["after_seq"].(float64); note["author"] != "Mei" || seq < 1 || note["client_id"] != "n1" {
		t.Errorf("note frame = %v", note)
	}
	mei.wait(func(m map[string]any) bool { return m["type"] == "ack" && m["id"] == "n1" && m["note"] == true })
	// The same id again: stored once, acknowledged as a duplicate.
	mei.send(`{"type":"note","conversation_id":"` + v.conv + `","id":"n1","text":"` + secret + ` again"}`)
	mei.wait(func(m map[string]any) bool { return m["type"] == "ack" && m["id"] == "n1" && m["duplicate"] == true })
	// A reply after the note: when it reaches the visitor, anything sent
	// before it on the socket has too.
	mei.send(`{"type":"message","conversation_id":"` + v.conv + `","id":"r1","text":"marker reply"}`)
	v.wait("marker reply")
	if strings.Contains(v.all(), "NOTE-refund") || strings.Contains(v.all(), `"type":"note"`) {
		t.Fatalf("the visitor's socket carried the note:\n%s", v.all())
	}
	// A reconnect replays everything: still no note.
	again := dialRaw(t, r, `{"type":"hello","token":"`+v.token+`","last_seq":0}`)
	again.wait("marker reply")
	if strings.Contains(again.all(), "NOTE-refund") {
		t.Fatalf("the replay carried the note:\n%s", again.all())
	}
	// Nor the HTTP API.
	for _, path := range []string{"/messages", "/events"} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", r.URL+"/v1/conversations/"+v.conv+path+"?after=0", nil)
		req.Header.Set("Authorization", "Bearer "+v.token)
		if path == "/events" {
			req.Header.Set("Accept", "text/event-stream")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		// The event stream stays open: read what the replay sent.
		buf := make([]byte, 64<<10)
		var got strings.Builder
		for !strings.Contains(got.String(), "marker reply") {
			n, err := resp.Body.Read(buf)
			got.Write(buf[:n])
			if err == io.EOF || err != nil {
				break
			}
		}
		resp.Body.Close()
		cancel()
		if !strings.Contains(got.String(), "marker reply") || strings.Contains(got.String(), "NOTE-refund") {
			t.Errorf("GET %s: %s", path, got.String())
		}
	}
	// A colleague opening the conversation later gets the note with it.
	bo := newAgent(t, r, "bo", "", 3).console()
	bo.send(`{"type":"watch","conversation_id":"` + v.conv + `","last_seq":0}`)
	bo.wait(func(m map[string]any) bool { return m["type"] == "note" && m["text"] == secret && m["author"] == "Mei" })
	// Refusals.
	bo.send(`{"type":"note","conversation_id":"nosuchconversat","id":"n2","text":"x"}`)
	bo.wait(func(m map[string]any) bool {
		return m["type"] == "error" && m["code"] == "not_found" && m["action"] == "note"
	})
	bo.send(`{"type":"note","conversation_id":"` + v.conv + `","id":"n3","text":"` + strings.Repeat("x", 5000) + `"}`)
	bo.wait(func(m map[string]any) bool {
		return m["type"] == "error" && m["code"] == "message_too_long" && m["id"] == "n3"
	})
	bo.send(`{"type":"note","conversation_id":"` + v.conv + `","id":"n4","text":"  "}`)
	bo.wait(func(m map[string]any) bool {
		return m["type"] == "error" && m["code"] == "bad_field" && strings.Contains(m["message"].(string), "text")
	})
}
