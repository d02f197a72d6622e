package visitor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/protocol"
)

// sseSink is a hub subscriber that a server-sent-events response drains: a
// bounded queue like a socket's, filled without blocking.
type sseSink struct {
	hub.Endpoint
	frames chan hub.Frame
	once   sync.Once
	closed chan struct{}
	code   websocket.StatusCode
}

func newSSESink(queue int) *sseSink {
	return &sseSink{frames: make(chan hub.Frame, queue), closed: make(chan struct{})}
}

// Send queues f; a full queue ends the stream as too slow.
func (s *sseSink) Send(f hub.Frame) bool {
	select {
	case s.frames <- f:
		return true
	default:
		s.Close(protocol.CloseSlow, "too slow")
		return false
	}
}

// Close ends the stream (shutdown, slow reader).
func (s *sseSink) Close(code websocket.StatusCode, _ string) {
	s.once.Do(func() { s.code = code; close(s.closed) })
}

// sseWriter writes events to a response, each under a write deadline.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	seqs    map[string]uint64 // newest seq written per conversation
}

func newSSEWriter(w http.ResponseWriter, timeout time.Duration) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Proxies such as nginx buffer responses unless told not to, which would
	// hold back every token of a streamed answer.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sseWriter{w: w, rc: http.NewResponseController(w), timeout: timeout, seqs: map[string]uint64{}}
	// Send the headers now: a client waits for them before it reads any
	// event, and an idle stream may not write for a while.
	s.rc.Flush()
	return s
}

// frame writes a hub frame as an event named after its type; stored
// messages carry their seq as the event id, and a seq already written is
// skipped (a replay and the live stream may overlap).
func (s *sseWriter) frame(f hub.Frame) error {
	if f.Seq > 0 {
		if f.Seq <= s.seqs[f.Conv] {
			return nil
		}
		s.seqs[f.Conv] = f.Seq
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(f.Data, &head); err != nil {
		return fmt.Errorf("sse: frame type: %w", err)
	}
	var b bytes.Buffer
	if f.Seq > 0 {
		fmt.Fprintf(&b, "id: %d\n", f.Seq)
	}
	fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", head.Type, f.Data)
	return s.write(b.Bytes())
}

// event writes a named event with a JSON payload.
func (s *sseWriter) event(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("sse: encode %s: %w", name, err)
	}
	return s.write(fmt.Appendf(nil, "event: %s\ndata: %s\n\n", name, data))
}

func (s *sseWriter) write(p []byte) error {
	s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	if _, err := s.w.Write(p); err != nil {
		return err
	}
	return s.rc.Flush()
}
