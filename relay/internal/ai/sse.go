package ai

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// go-openai's stream reader returns io.EOF both after "data: [DONE]" and
// when the body simply ends (a cut stream, a proxy that gave up), and it
// reads lines with bufio.Reader.ReadBytes, which buffers a line of any
// length. sseBody sits under it, on the response body, to notice the
// [DONE] line itself and to refuse a line longer than a limit.

// errLineTooLong ends a stream whose line exceeds the limit.
var errLineTooLong = errors.New("stream line too long")

// errTooMuchNoise ends a stream with too many bytes outside data lines.
// go-openai keeps every such line (comments, unknown fields) in an error
// buffer for the stream's life, so without a bound an upstream could fill
// memory with comments.
var errTooMuchNoise = errors.New("too many non-data bytes in stream")

// maxNoise bounds the bytes of non-data lines in one stream: keep-alive
// comments every few seconds for two minutes are a few hundred bytes.
const maxNoise = 256 << 10

type sseBody struct {
	rc      io.ReadCloser
	maxLine int
	done    *atomic.Bool // set once a "data: [DONE]" line passed
	closed  atomic.Bool  // Close ran (the tool-call grace timer may call it too)
	release func()       // ends the request's context (nil: nothing to end)

	lineLen int    // bytes of the current line so far
	head    []byte // the current line's first bytes, enough to spot [DONE]
	noise   int    // bytes of non-empty lines that were not data lines
}

// headKeep is enough for "data:" + spaces + "[DONE]" + a CR.
const headKeep = 32

func (b *sseBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if lerr := b.observe(p[:n]); lerr != nil {
		return n, lerr
	}
	if errors.Is(err, io.EOF) && b.lineLen > 0 {
		// A [DONE] line without its newline, right before a clean end.
		b.endLine()
	}
	return n, err
}

func (b *sseBody) observe(p []byte) error {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		part := p
		if i >= 0 {
			part = p[:i]
		}
		b.lineLen += len(part)
		if len(b.head) < headKeep {
			b.head = append(b.head, part[:min(len(part), headKeep-len(b.head))]...)
		}
		if b.lineLen > b.maxLine {
			return fmt.Errorf("%w: more than %d bytes", errLineTooLong, b.maxLine)
		}
		if i < 0 {
			return nil
		}
		b.endLine()
		if b.noise > maxNoise {
			return fmt.Errorf("%w: more than %d", errTooMuchNoise, maxNoise)
		}
		p = p[i+1:]
	}
	return nil
}

func (b *sseBody) endLine() {
	line := bytes.TrimSpace(b.head)
	rest, isData := bytes.CutPrefix(line, []byte("data:"))
	if isData && b.lineLen <= headKeep && string(bytes.TrimSpace(rest)) == "[DONE]" {
		b.done.Store(true)
	}
	if !isData && len(line) > 0 {
		b.noise += b.lineLen
	}
	b.lineLen = 0
	b.head = b.head[:0]
}

// Close closes the body; after [DONE], once its end is read. net/http
// keeps an HTTP/1.1 connection for the next request only when the
// response was read to its end, and the end (the chunked terminator)
// comes right after [DONE], often in a later read: closing before it, as
// every answer did, made the next answer from an HTTP/1.1 upstream
// (Ollama, vLLM, a plain-HTTP proxy) dial again, a TCP and maybe a TLS
// handshake at its start. The end is read in the background, bounded in
// bytes and time, so an upstream that holds the response open after
// [DONE] delays nothing: its request is ended after drainWait.
func (b *sseBody) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	if b.done.Load() {
		go b.drain()
		return nil
	}
	defer b.end()
	return b.rc.Close()
}

// drainMax and drainWait bound the read of a body's end after [DONE].
const (
	drainMax  = 4 << 10
	drainWait = 2 * time.Second
)

// drain reads what is left of the body, at most drainMax bytes within
// drainWait, and closes it. Its errors are left: the answer is complete,
// and a body that did not end well only costs its connection, which
// net/http then closes instead of keeping.
func (b *sseBody) drain() {
	stop := time.AfterFunc(drainWait, b.end) // ending the request ends a read that waits
	_, _ = io.CopyN(io.Discard, b.rc, drainMax)
	stop.Stop()
	_ = b.rc.Close()
	b.end()
}

// end ends the body's request (its context), once the body is done with.
func (b *sseBody) end() {
	if b.release != nil {
		b.release()
	}
}

// events reads the data payloads of an event stream, as go-openai's
// stream reader did (Stream used it until its cost per chunk showed: three
// regular expressions and a copy of every line, then json.Unmarshal into
// its full response type). It reads from the sseBody under it, which keeps
// bounding lines and noise and noticing [DONE].
type events struct {
	r        *bufio.Reader
	long     []byte       // a line longer than r's buffer, pieced together
	noise    bytes.Buffer // non-data lines: a plain JSON error body, maybe
	finished bool
}

// eventsBuffer holds a whole chunk line: OpenAI's are ~250 bytes, tool
// calls and usage a little more. Longer lines are pieced together.
const eventsBuffer = 4096

func newEvents(r io.Reader) *events {
	return &events{r: bufio.NewReaderSize(r, eventsBuffer)}
}

// reset makes e read r from the start, as newEvents(r) would, keeping its
// buffers.
func (e *events) reset(r io.Reader) {
	e.r.Reset(r)
	e.long = e.long[:0]
	e.noise.Reset()
	e.finished = false
}

// errStreamError is an error event in the stream that did not parse.
var errStreamError = errors.New("malformed error event in the stream")

// next returns the next data payload, valid until the following call.
// [DONE] and the end of the body are io.EOF; an error event (data:
// {"error": …}), or an OpenAI error object as the body's only content,
// is an *apiError; more than emptyMessagesLimit non-data lines in a row
// are errTooManyEmpty.
func (e *events) next() ([]byte, error) {
	if e.finished {
		return nil, io.EOF
	}
	for empty := 0; ; {
		line, err := e.line()
		if err != nil {
			// A last line without its newline is not an event.
			if apiErr := parseAPIError(e.noise.Bytes()); apiErr != nil {
				return nil, fmt.Errorf("error, %w", apiErr)
			}
			return nil, err
		}
		line = bytes.TrimSpace(line)
		payload, isData := bytes.CutPrefix(line, []byte("data:"))
		if isData {
			payload = bytes.TrimLeft(payload, " \t\n\f\r")
			switch {
			case bytes.HasPrefix(payload, []byte(`{"error":`)):
				if apiErr := parseAPIError(payload); apiErr != nil {
					return nil, fmt.Errorf("error, %w", apiErr)
				}
				return nil, errStreamError
			case string(payload) == "[DONE]":
				e.finished = true
				return nil, io.EOF
			}
			return payload, nil
		}
		e.noise.Write(line) // bounded by sseBody (maxNoise)
		if empty++; empty > emptyMessagesLimit {
			return nil, errTooManyEmpty
		}
	}
}

// line returns the next line with its newline, or an error.
func (e *events) line() ([]byte, error) {
	line, err := e.r.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	e.long = append(e.long[:0], line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		line, err = e.r.ReadSlice('\n')
		e.long = append(e.long, line...)
	}
	return e.long, err
}
