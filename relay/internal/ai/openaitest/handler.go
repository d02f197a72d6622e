package openaitest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Options. They keep a plain `fakeopenai` run close to a real
// model's rhythm while letting tests shrink every wait to milliseconds.
const (
	// DefaultText is the answer the Normal scenario streams.
	DefaultText = "Hello! This is the fake upstream answering. Your question has been received."
	// DefaultChunkRunes is the size of one content delta: about a token.
	DefaultChunkRunes = 4
	// DefaultFirstDelay is SlowFirst's wait before the first chunk.
	DefaultFirstDelay = 2 * time.Second
	// DefaultStallAfter and DefaultCutAfter: enough chunks that the client
	// has started showing text before things go wrong.
	DefaultStallAfter = 2
	DefaultCutAfter   = 2
	// DefaultKeepAliveEvery paces KeepAlive's comment lines.
	DefaultKeepAliveEvery = 100 * time.Millisecond
	// DefaultHugeLineBytes is the size of HugeLine's one line: 10 MB.
	DefaultHugeLineBytes = 10 << 20
	// DefaultRetryAfter is what RateLimited asks the client to wait.
	DefaultRetryAfter = time.Second
	// DefaultMaxLog bounds the request log so a long benchmark does not
	// grow it without end; the oldest entries go first.
	DefaultMaxLog = 10000
	// maxBody bounds a request body; real prompts are far smaller.
	maxBody = 8 << 20
)

// Options shape the fake upstream. The zero value is a Normal server with the
// defaults above.
type Options struct {
	Scenario   Scenario      // default scenario; Normal if empty
	Text       string        // answer text; DefaultText if empty
	ChunkRunes int           // runes per content delta; DefaultChunkRunes if 0
	Delay      time.Duration // wait between content deltas; none if 0
	// Steady paces content deltas on a fixed schedule, one every Delay
	// from the first, instead of Delay after each send (play.pace).
	Steady         bool
	FirstDelay     time.Duration // SlowFirst's wait; DefaultFirstDelay if 0
	StallAfter     int           // Stall's chunks before silence; DefaultStallAfter if 0
	CutAfter       int           // Cut's and Drop's chunks before the end; DefaultCutAfter if 0
	KeepAliveEvery time.Duration // KeepAlive's pace; DefaultKeepAliveEvery if 0
	HugeLineBytes  int           // HugeLine's line size; DefaultHugeLineBytes if 0
	RetryAfter     time.Duration // RateLimited's Retry-After; DefaultRetryAfter if 0
	// RejectTools answers 400 to a request that offers tools, as some
	// OpenAI-compatible servers do.
	RejectTools bool
	// Words cuts the text as OpenAI's tokenizer does, one word per chunk
	// with its leading space (" word"), punctuation on its own, instead
	// of ChunkRunes runes per chunk.
	Words bool
	// RequireKey, when set, makes every request without
	// "Authorization: Bearer RequireKey" fail with the Unauthorized answer.
	RequireKey string
	// Stamp adds "x_kefu_sent_ns" (Unix nanoseconds at send time) to every
	// chunk; clients that do not know the field ignore it.
	Stamp bool
	// StampContent prefixes every content delta with "[t=<unix ns>]" so a
	// timestamp survives a relay that forwards only the text.
	StampContent bool
	// MaxLog bounds the request log; DefaultMaxLog if 0, no log if < 0.
	MaxLog int
	// Now is the clock for "created" and stamps; time.Now if nil.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Scenario == "" {
		o.Scenario = Normal
	}
	if o.Text == "" {
		o.Text = DefaultText
	}
	if o.ChunkRunes <= 0 {
		o.ChunkRunes = DefaultChunkRunes
	}
	if o.FirstDelay <= 0 {
		o.FirstDelay = DefaultFirstDelay
	}
	if o.StallAfter <= 0 {
		o.StallAfter = DefaultStallAfter
	}
	if o.CutAfter <= 0 {
		o.CutAfter = DefaultCutAfter
	}
	if o.KeepAliveEvery <= 0 {
		o.KeepAliveEvery = DefaultKeepAliveEvery
	}
	if o.HugeLineBytes <= 0 {
		o.HugeLineBytes = DefaultHugeLineBytes
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.MaxLog == 0 {
		o.MaxLog = DefaultMaxLog
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Request is one recorded request, for assertions.
type Request struct {
	Time         time.Time
	Method       string
	Path         string
	Header       http.Header
	Body         []byte
	Model        string
	Stream       bool
	IncludeUsage bool
	MaxTokens    int // max_tokens or max_completion_tokens, whichever was sent
	Temperature  *float64
	Messages     []Message
	Scenario     Scenario
	// Tools names the functions the request offered (tools[].function.name).
	Tools []string
}

// Message is one chat message as the client sent it.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// chatRequest is the part of the request body the fake reads.
type chatRequest struct {
	Model               string    `json:"model"`
	Messages            []Message `json:"messages"`
	Stream              bool      `json:"stream"`
	MaxTokens           int       `json:"max_tokens"`
	MaxCompletionTokens int       `json:"max_completion_tokens"`
	Temperature         *float64  `json:"temperature"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Tools []struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
}

// Handler is the fake upstream as an http.Handler, for a process of its own
// (cmd/fakeopenai) or any server a test builds.
type Handler struct {
	opts Options

	done      chan struct{} // closed by Close: releases stalled streams
	closeOnce sync.Once
	ids       atomic.Int64
	active    atomic.Int64

	mu       sync.Mutex
	scenario Scenario
	queue    []Scenario
	log      []Request
}

// NewHandler returns a fake upstream handler.
func NewHandler(opts Options) *Handler {
	opts = opts.withDefaults()
	return &Handler{opts: opts, scenario: opts.Scenario, done: make(chan struct{})}
}

// Close releases every stream that is waiting (Stall, KeepAlive, delays), so
// a server shutting down does not wait for clients to give up.
func (h *Handler) Close() { h.closeOnce.Do(func() { close(h.done) }) }

// SetScenario changes the default scenario.
func (h *Handler) SetScenario(s Scenario) {
	h.mu.Lock()
	h.scenario = s
	h.mu.Unlock()
}

// Enqueue makes the next requests (that name no scenario themselves) play
// the given scenarios in order, e.g. Enqueue(RateLimited) then Normal again.
func (h *Handler) Enqueue(s ...Scenario) {
	h.mu.Lock()
	h.queue = append(h.queue, s...)
	h.mu.Unlock()
}

// Requests returns a copy of the request log, oldest first.
func (h *Handler) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Request(nil), h.log...)
}

// Count returns how many requests the log holds.
func (h *Handler) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.log)
}

// Active returns the number of responses being written right now; tests
// poll it to see that a client that gave up really closed its stream.
func (h *Handler) Active() int { return int(h.active.Load()) }

// ServeHTTP answers /v1/chat/completions (and /chat/completions, for base
// URLs without /v1) and /v1/models.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.active.Add(1)
	defer h.active.Add(-1)
	switch {
	case strings.HasSuffix(r.URL.Path, "/chat/completions"):
		h.chat(w, r)
	case strings.HasSuffix(r.URL.Path, "/models") && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"object":"list","data":[{"id":"fake","object":"model","created":0,"owned_by":"kefu"}]}`)
	default:
		writeError(w, http.StatusNotFound, "Unknown request URL: "+r.Method+" "+r.URL.Path, "invalid_request_error", "unknown_url")
	}
}

func (h *Handler) chat(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "Use POST.", "invalid_request_error", "method_not_allowed")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "Request body too large or unreadable.", "invalid_request_error", "body")
		return
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "We could not parse the JSON body of your request.", "invalid_request_error", "invalid_json")
		return
	}
	scenario, lastUser := h.pick(req)
	h.record(r, body, req, scenario)

	if h.opts.RejectTools && len(req.Tools) > 0 {
		writeError(w, http.StatusBadRequest, "tools is not supported by this model", "invalid_request_error", "unsupported_parameter")
		return
	}
	if h.opts.RequireKey != "" && r.Header.Get("Authorization") != "Bearer "+h.opts.RequireKey {
		scenario = Unauthorized
	}
	p := play{h: h, w: w, r: r, req: req, lastUser: lastUser, scenario: scenario}
	p.run()
}

// pick chooses the scenario for one request (see Scenario) and returns the
// last user message with any marker removed.
func (h *Handler) pick(req chatRequest) (Scenario, string) {
	lastUser := ""
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == "user" {
			lastUser = req.Messages[i].Content
			break
		}
	}
	if s, clean, ok := markerIn(lastUser); ok {
		return s, clean
	}
	if s, ok := fromModel(req.Model); ok {
		return s, lastUser
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.queue) > 0 {
		s := h.queue[0]
		h.queue = h.queue[1:]
		return s, lastUser
	}
	return h.scenario, lastUser
}

func (h *Handler) record(r *http.Request, body []byte, req chatRequest, s Scenario) {
	if h.opts.MaxLog < 0 {
		return
	}
	rec := Request{
		Time:        h.opts.Now(),
		Method:      r.Method,
		Path:        r.URL.Path,
		Header:      r.Header.Clone(),
		Body:        body,
		Model:       req.Model,
		Stream:      req.Stream,
		MaxTokens:   max(req.MaxTokens, req.MaxCompletionTokens),
		Temperature: req.Temperature,
		Messages:    req.Messages,
		Scenario:    s,
	}
	if req.StreamOptions != nil {
		rec.IncludeUsage = req.StreamOptions.IncludeUsage
	}
	for _, t := range req.Tools {
		rec.Tools = append(rec.Tools, t.Function.Name)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.log) >= h.opts.MaxLog {
		// Drop the oldest half at once so trimming stays O(1) amortised.
		n := copy(h.log, h.log[len(h.log)/2:])
		clear(h.log[n:])
		h.log = h.log[:n]
	}
	h.log = append(h.log, rec)
}

// writeError writes an OpenAI-style JSON error body.
func writeError(w http.ResponseWriter, status int, message, typ, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	codeJSON := "null"
	if code != "" {
		codeJSON = string(appendString(nil, code))
	}
	_, _ = fmt.Fprintf(w, `{"error":{"message":%s,"type":%s,"param":null,"code":%s}}`,
		appendString(nil, message), appendString(nil, typ), codeJSON)
}

// errClientGone ends a play when the client or the server went away.
var errClientGone = errors.New("openaitest: client gone")
