package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/protocol"
)

// filesAndNotesAcrossNodes: an upload begun on one node and continued on
// the two others is one whole file, served by every node; an internal
// note written on one node reaches the agent's console on another and
// never any of the visitor's sockets.
func filesAndNotesAcrossNodes(t *testing.T, n []*apptest.Relay, _ *openaitest.Server) {
	lin := newAgent(t, n[0], "lin", 5).on(n[2])
	con := lin.console()
	other := lin.on(n[1]).console() // Lin's second console, on another node
	v := newVisitor(t, n[0])
	tab := v.tab(n[1])
	v.send("I want to talk to a person please")
	con.wait(msgIn(v.conv, "visitor", "I want to talk to a person please"))
	v.waitMsg(func(m protocol.Message) bool { return m.From == "system" && strings.Contains(m.Text, "Lin joined") })
	token, _, _ := v.c.State()

	call := func(r *apptest.Relay, method, path, ctype string, body []byte) (int, []byte, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, r.URL+"/v1/conversations/"+v.conv+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Origin", r.URL)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, resp.Header
	}

	img := image.NewRGBA(image.Rect(0, 0, 300, 200))
	for y := range 200 {
		for x := range 300 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	half := len(data) / 2
	if code, b, _ := call(n[0], "POST", "/uploads", "application/json", fmt.Appendf(nil, `{"id":"u1","name":"cup.png","size":%d}`, len(data))); code != 200 {
		t.Fatalf("create on node 0: %d %s", code, b)
	}
	if code, b, _ := call(n[1], "POST", "/uploads/u1?offset=0", "application/octet-stream", data[:half]); code != 200 {
		t.Fatalf("first half on node 1: %d %s", code, b)
	}
	// The first half again, to another node: refused, nothing doubled.
	if code, b, _ := call(n[2], "POST", "/uploads/u1?offset=0", "application/octet-stream", data[:half]); code != 409 {
		t.Fatalf("the first half again on node 2: %d %s; want 409", code, b)
	}
	code, b, _ := call(n[2], "POST", fmt.Sprintf("/uploads/u1?offset=%d", half), "application/octet-stream", data[half:])
	var st struct {
		Done    bool
		Message *protocol.Message
	}
	json.Unmarshal(b, &st)
	if code != 200 || !st.Done || st.Message == nil || st.Message.Attachment == nil {
		t.Fatalf("second half on node 2: %d %s", code, b)
	}
	att := st.Message.Attachment
	tab.waitMsg(func(m protocol.Message) bool { return m.Attachment != nil && m.Attachment.ID == att.ID })
	con.wait(func(m map[string]any) bool {
		return m["type"] == "message" && m["conversation_id"] == v.conv && m["attachment"] != nil
	})
	for i, r := range n {
		code, body, hd := call(r, "GET", "/attachments/"+att.ID, "", nil)
		if code != 200 || hd.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("node %d serves the file: %d %v", i, code, hd)
		}
		got, err := png.Decode(bytes.NewReader(body))
		if err != nil || got.Bounds().Dx() != 300 || got.Bounds().Dy() != 200 {
			t.Fatalf("node %d: the file is not the whole picture: %v", i, err)
		}
	}

	// A note on node 2: Lin's console on node 1 gets it; the visitor's
	// sockets on nodes 0 and 1 never do.
	const secret = "NOTE-cluster-7f3a refund approved"
	con.send(fmt.Sprintf(`{"type":"note","conversation_id":%q,"id":"note-1","text":%q}`, v.conv, secret))
	con.wait(func(m map[string]any) bool { return m["type"] == "ack" && m["id"] == "note-1" && m["note"] == true })
	other.wait(func(m map[string]any) bool { return m["type"] == "note" && m["text"] == secret })
	// Then a reply, which the visitor's sockets do get: what came before
	// it on their topic has come too.
	con.send(fmt.Sprintf(`{"type":"message","conversation_id":%q,"id":"lin-1","text":"after the note"}`, v.conv))
	for _, w := range []*visitor{v, tab} {
		w.waitMsg(func(m protocol.Message) bool { return m.Text == "after the note" })
		w.mu.Lock()
		raw, _ := json.Marshal(w.frames)
		w.mu.Unlock()
		if bytes.Contains(raw, []byte("NOTE-cluster")) || bytes.Contains(raw, []byte(`"type":"note"`)) {
			t.Errorf("a visitor socket got the note: %s", raw)
		}
		for _, m := range w.messages() {
			if strings.Contains(m.Text, "NOTE-cluster") {
				t.Errorf("a visitor socket got the note as a message: %+v", m)
			}
		}
	}
	if notes, err := n[0].Store.Notes(v.conv); err != nil || len(notes) != 1 || notes[0].Text != secret {
		t.Errorf("notes stored = %+v, %v", notes, err)
	}
	msgs, err := n[1].Store.Messages(v.conv, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if strings.Contains(m.Text, "NOTE-cluster") {
			t.Errorf("the note is among the messages: %+v", m)
		}
	}
}
