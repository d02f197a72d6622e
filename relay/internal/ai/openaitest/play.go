package openaitest

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// play writes one response according to its scenario.
type play struct {
	h        *Handler
	w        http.ResponseWriter
	r        *http.Request
	req      chatRequest
	lastUser string
	scenario Scenario

	rc  *http.ResponseController
	buf []byte
	due time.Time // when the last paced chunk was due (pace)
}

func (p *play) run() {
	switch p.scenario {
	case Unauthorized:
		key, ok := strings.CutPrefix(p.r.Header.Get("Authorization"), "Bearer ")
		msg := "You didn't provide an API key."
		if ok && key != "" {
			// Echo the whole key: some proxies do, and the client must
			// never let it reach a log or an error.
			msg = "Incorrect API key provided: " + key + ". You can find your API key at https://platform.openai.com/account/api-keys."
		}
		writeError(p.w, http.StatusUnauthorized, msg, "invalid_request_error", "invalid_api_key")
	case RateLimited, RateLimitedLong:
		d := p.h.opts.RetryAfter
		if p.scenario == RateLimitedLong {
			d = time.Minute
		}
		p.w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
		p.w.Header().Set("Retry-After-Ms", strconv.FormatInt(d.Milliseconds(), 10))
		writeError(p.w, http.StatusTooManyRequests, "Rate limit reached for requests. Please try again later.", "requests", "rate_limit_exceeded")
	case ServerError:
		writeError(p.w, http.StatusInternalServerError, "The server had an error while processing your request. Sorry about that!", "server_error", "")
	case HTMLError:
		p.w.Header().Set("Content-Type", "text/html")
		p.w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(p.w, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
	default:
		if p.req.Stream {
			p.stream()
		} else {
			p.complete()
		}
	}
}

func (p *play) text() string {
	if p.scenario == Echo && p.lastUser != "" {
		return p.lastUser
	}
	return p.h.opts.Text
}

func (p *play) head() chunkHead {
	return chunkHead{
		id:      "chatcmpl-fake" + strconv.FormatInt(p.h.ids.Add(1), 10),
		created: p.h.opts.Now().Unix(),
		model:   p.req.Model,
		usage:   p.req.StreamOptions != nil && p.req.StreamOptions.IncludeUsage,
		stamp:   p.h.opts.Stamp,
	}
}

// wait pauses for d unless the client or the server goes away first.
func (p *play) wait(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-p.r.Context().Done():
		return errClientGone
	case <-p.h.done:
		return errClientGone
	}
}

// pace waits Options.Delay before the next chunk. With Options.Steady the
// chunk is due Delay after the previous one was due, not after it was sent:
// an upstream generating at a steady rate keeps such a schedule, while
// waiting Delay after each send adds every late timer wake-up to all later
// chunks, and the streams of a load test, woken together by one late
// wake-up, go on in lockstep (the benchmark then measures bursts the fake
// made, bench/notes.md).
func (p *play) pace() error {
	d := p.h.opts.Delay
	if d <= 0 || !p.h.opts.Steady {
		return p.wait(d)
	}
	if p.due.IsZero() {
		p.due = time.Now()
	}
	p.due = p.due.Add(d)
	return p.wait(time.Until(p.due))
}

// hold blocks until the client or the server goes away.
func (p *play) hold() {
	select {
	case <-p.r.Context().Done():
	case <-p.h.done:
	}
}

// send writes b and flushes it to the client at once.
func (p *play) send(b []byte) error {
	if _, err := p.w.Write(b); err != nil {
		return errClientGone
	}
	if err := p.rc.Flush(); err != nil {
		return errClientGone
	}
	return nil
}

func (p *play) chunk(h chunkHead, role, content, finish string) error {
	now := p.h.opts.Now().UnixNano()
	if p.h.opts.StampContent && content != "" {
		content = "[t=" + strconv.FormatInt(now, 10) + "]" + content
	}
	p.buf = appendChunk(p.buf[:0], h, role, content, finish, now)
	return p.send(p.buf)
}

func (p *play) stream() {
	p.rc = http.NewResponseController(p.w)
	hdr := p.w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no")
	p.w.WriteHeader(http.StatusOK)
	if err := p.rc.Flush(); err != nil {
		return
	}
	if p.scenario == KeepAlive {
		p.keepAlive()
		return
	}
	h := p.head()
	if p.scenario == SlowFirst {
		if p.wait(p.h.opts.FirstDelay) != nil {
			return
		}
	}
	if p.chunk(h, "assistant", "", "") != nil {
		return
	}
	switch p.scenario {
	case HugeLine:
		p.hugeLine(h)
		return
	case BadUTF8:
		for _, c := range []string{"Hello ", "\xff\xfe", " caf\xc3", "\xa9 world"} {
			if p.chunk(h, "", c, "") != nil {
				return
			}
		}
		p.finish(h, "stop", 4)
		return
	}
	pieces := p.pieces(p.text())
	if p.scenario == Tool || p.scenario == ToolStall || p.scenario == ToolHold || p.scenario == Marker {
		p.handoff(h, pieces)
		return
	}
	for i, piece := range pieces {
		switch {
		case p.scenario == Stall && i == p.h.opts.StallAfter:
			p.hold()
			return
		case (p.scenario == Cut || p.scenario == Drop) && i == p.h.opts.CutAfter:
			if p.scenario == Drop {
				p.drop(h, piece)
			}
			return // Cut: the handler returns, the response ends cleanly.
		}
		if i > 0 && p.pace() != nil {
			return
		}
		if p.chunk(h, "", piece, "") != nil {
			return
		}
	}
	if p.scenario == Stall || p.scenario == Cut || p.scenario == Drop {
		// The text was shorter than the point of failure: fail at the end.
		if p.scenario == Stall {
			p.hold()
		}
		return
	}
	finish := "stop"
	if p.scenario == NoFinish {
		finish = ""
	}
	p.finish(h, finish, len(pieces))
}

// pieces cuts text into content deltas: words or runes (Options.Words).
func (p *play) pieces(text string) []string {
	if p.h.opts.Words {
		return splitWords(text)
	}
	return splitRunes(text, p.h.opts.ChunkRunes)
}

// handoff plays Tool, ToolStall, ToolHold and Marker: some text, then the model's
// way of asking for a person.
func (p *play) handoff(h chunkHead, pieces []string) {
	pieces = pieces[:min(len(pieces), p.h.opts.CutAfter)]
	for i, piece := range pieces {
		if i > 0 && p.pace() != nil {
			return
		}
		if p.chunk(h, "", piece, "") != nil {
			return
		}
	}
	if p.pace() != nil {
		return
	}
	if p.scenario == Marker {
		for _, piece := range []string{" <<", "hand", "off", ">>"} {
			if p.chunk(h, "", piece, "") != nil || p.pace() != nil {
				return
			}
		}
		p.hold()
		return
	}
	now := p.h.opts.Now().UnixNano
	p.buf = appendToolChunk(p.buf[:0], h, "call_fake"+strconv.FormatInt(p.h.ids.Add(1), 10), ToolName, "", now())
	if p.send(p.buf) != nil {
		return
	}
	if p.scenario == ToolStall {
		p.hold()
		return
	}
	args := `{"reason":` + string(appendString(nil, ToolReason)) + `}`
	for _, piece := range []string{args[:len(args)/2], args[len(args)/2:]} {
		if p.pace() != nil {
			return
		}
		p.buf = appendToolChunk(p.buf[:0], h, "", "", piece, now())
		if p.send(p.buf) != nil {
			return
		}
	}
	if p.scenario == ToolHold {
		p.hold()
		return
	}
	p.finish(h, "tool_calls", len(pieces)+2)
}

// finish sends the finish-reason chunk (unless finish is empty), the usage
// chunk when asked for, and [DONE].
func (p *play) finish(h chunkHead, finish string, completion int) {
	if finish != "" {
		if p.chunk(h, "", "", finish) != nil {
			return
		}
	}
	if h.usage {
		p.buf = appendUsageChunk(p.buf[:0], h, p.promptTokens(), completion, p.h.opts.Now().UnixNano())
		if p.send(p.buf) != nil {
			return
		}
	}
	if p.scenario == NoDone {
		return
	}
	_ = p.send([]byte(doneEvent))
}

// promptTokens is a deterministic stand-in for a tokenizer.
func (p *play) promptTokens() int {
	n := 0
	for _, m := range p.req.Messages {
		n += 4 + len(m.Content)/4
	}
	return n
}

// drop writes half of the next chunk and closes the TCP connection under
// the response, as a carrier or a crashing proxy does.
func (p *play) drop(h chunkHead, piece string) {
	b := appendChunk(nil, h, "", piece, "", 0)
	_ = p.send(b[:len(b)/2])
	conn, _, err := p.rc.Hijack()
	if err != nil {
		return // HTTP/2 cannot hijack; ending the handler is the best we can do.
	}
	_ = conn.Close()
}

func (p *play) keepAlive() {
	line := []byte(": keep-alive\n\n")
	for {
		if p.send(line) != nil || p.wait(p.h.opts.KeepAliveEvery) != nil {
			return
		}
	}
}

// hugeLine sends one data line of HugeLineBytes, written in blocks so the
// fake never holds 10 MB per request.
func (p *play) hugeLine(h chunkHead) {
	full := appendChunk(nil, h, "", "\x00", "", 0)
	i := bytes.Index(full, []byte(`\u0000`))
	prefix, suffix := full[:i], full[i+len(`\u0000`):]
	block := bytes.Repeat([]byte("a"), 64<<10)
	if _, err := p.w.Write(prefix); err != nil {
		return
	}
	for left := p.h.opts.HugeLineBytes; left > 0; left -= len(block) {
		if _, err := p.w.Write(block[:min(left, len(block))]); err != nil {
			return
		}
	}
	if p.send(suffix) != nil {
		return
	}
	p.finish(h, "stop", 1)
}

// complete answers a non-streaming request with one chat.completion object.
func (p *play) complete() {
	switch p.scenario {
	case SlowFirst:
		if p.wait(p.h.opts.FirstDelay) != nil {
			return
		}
	case Stall:
		p.hold()
		return
	}
	text := p.text()
	resp := map[string]any{
		"id":      "chatcmpl-fake" + strconv.FormatInt(p.h.ids.Add(1), 10),
		"object":  "chat.completion",
		"created": p.h.opts.Now().Unix(),
		"model":   p.req.Model,
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": text},
			"logprobs":      nil,
			"finish_reason": "stop",
		}},
		"usage": map[string]any{
			"prompt_tokens":     p.promptTokens(),
			"completion_tokens": len(splitRunes(text, p.h.opts.ChunkRunes)),
			"total_tokens":      p.promptTokens() + len(splitRunes(text, p.h.opts.ChunkRunes)),
		},
	}
	p.w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(p.w).Encode(resp)
}
