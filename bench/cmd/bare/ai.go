package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// The AI floor (--ai-upstream): what relaying a streamed answer costs a
// minimal Go server, the floor Kefu's AI path is measured against
// (kefubench's pinned 1 000-stream rows). On a visitor's message bare asks
// the upstream for a streamed chat completion and writes each chunk's
// content to the conversation's sockets as a delta frame the moment it is
// read, then a done delta. Nothing else: no history, no prompt, no output
// filter, no store, no watchdog, no answer cache, no per-frame timer.
//
// The chunk is decoded with encoding/json into the few fields it needs and
// the frame encoded with json.Marshal, as a plain Go relay would; that is
// ~2 µs of a chunk whose two syscalls cost tens (bench/notes.md).

// aiClient reaches the upstream. Its pool keeps a connection per stream
// between answers, as Kefu's transport does (256 idle per host).
func aiClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 4096
	t.MaxIdleConns = 4096
	return &http.Client{Transport: t}
}

type aiRequest struct {
	Model    string      `json:"model"`
	Stream   bool        `json:"stream"`
	Messages []aiMessage `json:"messages"`
}

type aiMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// aiChunk is the part of a chat.completion.chunk bare reads.
type aiChunk struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
	} `json:"choices"`
}

// delta is Kefu's delta frame (docs/protocol.md), the fields the load
// generator reads.
type delta struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	StreamID       string `json:"stream_id"`
	Index          int    `json:"index"`
	Text           string `json:"text"`
	Done           bool   `json:"done,omitempty"`
}

// answer streams the upstream's answer to question into cv's sockets.
func (s *server) answer(ctx context.Context, cv *conv, question string) {
	if err := s.streamAnswer(ctx, cv, question); err != nil {
		s.log.Warn("ai answer", "conversation", cv.id, "err", err)
	}
}

func (s *server) streamAnswer(ctx context.Context, cv *conv, question string) error {
	body, err := json.Marshal(aiRequest{Model: "bench", Stream: true, Messages: []aiMessage{{Role: "user", Content: question}}})
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(s.aiURL, "/")+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer sk-bench")
	resp, err := s.ai.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("upstream: %s", resp.Status)
	}
	d := delta{Type: "delta", ConversationID: cv.id, StreamID: rand.Text()[:16]}
	br := bufio.NewReaderSize(resp.Body, 4096)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		payload, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("data:"))
		if !ok {
			continue
		}
		payload = bytes.TrimSpace(payload)
		if string(payload) == "[DONE]" {
			break
		}
		var ch aiChunk
		if err := json.Unmarshal(payload, &ch); err != nil {
			return fmt.Errorf("decode chunk: %w", err)
		}
		text := ""
		for _, c := range ch.Choices {
			text += c.Delta.Content
		}
		if text == "" {
			continue
		}
		d.Index++
		d.Text = text
		s.publish(ctx, cv, d)
	}
	d.Index++
	d.Text, d.Done = "", true
	s.publish(ctx, cv, d)
	// The body's end, so net/http keeps the connection for the next
	// answer (as Kefu does since it reads it after [DONE]).
	_, _ = io.Copy(io.Discard, io.LimitReader(br, 4096))
	return nil
}

// publish encodes d once and writes it to every socket of cv. No timer
// bounds the write: a peer that stops reading holds up its own answer
// only (the floor's socket writes never wait on this box's loopback).
func (s *server) publish(ctx context.Context, cv *conv, d delta) {
	data, _ := json.Marshal(d)
	cv.mu.Lock()
	subs := make([]*websocket.Conn, 0, len(cv.subs))
	for c := range cv.subs {
		subs = append(subs, c)
	}
	cv.mu.Unlock()
	for _, c := range subs {
		_ = c.Write(ctx, websocket.MessageText, data)
	}
}

// aiTimeout bounds one answer, so a stuck upstream frees its goroutine.
const aiTimeout = 2 * time.Minute
