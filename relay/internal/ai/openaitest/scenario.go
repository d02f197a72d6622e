package openaitest

import (
	"strings"
)

// Scenario names one behaviour of the fake upstream. A request picks its
// scenario, in this order: a marker "[[fake:NAME]]" in the last user message
// (so browser tests can trigger one by typing into the widget), a model named
// "fake-NAME", the next queued scenario (Server.Enqueue), the server default.
type Scenario string

// The scenarios. Each is documented in docs/ai.md with its marker.
const (
	// Normal streams Options.Text in chunks, a finish reason, an optional
	// usage chunk and [DONE]: a well-behaved upstream.
	Normal Scenario = "normal"
	// Echo streams the last user message back (marker removed): lets tests
	// prove that two concurrent streams never mix.
	Echo Scenario = "echo"
	// Unauthorized answers 401 with an error message that echoes the key it
	// received, as some proxies do.
	Unauthorized Scenario = "401"
	// RateLimited answers 429 with Retry-After and retry-after-ms headers.
	RateLimited Scenario = "429"
	// ServerError answers 500 with an OpenAI-style JSON error body.
	ServerError Scenario = "500"
	// HTMLError answers 502 with an HTML page, as a reverse proxy does.
	HTMLError Scenario = "html"
	// Stall sends Options.StallAfter chunks, then nothing until the client
	// goes away.
	Stall Scenario = "stall"
	// Cut sends Options.CutAfter chunks and ends the response cleanly, with
	// no finish reason and no [DONE]: the client sees a plain EOF.
	Cut Scenario = "cut"
	// Drop sends Options.CutAfter chunks, then half a chunk, and closes the
	// TCP connection: the client sees an unexpected EOF.
	Drop Scenario = "drop"
	// NoFinish streams the text and [DONE] but never a finish reason.
	NoFinish Scenario = "nofinish"
	// NoDone streams the text, the finish reason and the usage, then ends
	// the response cleanly without [DONE]: indistinguishable from a
	// complete answer for a client that only watches for io.EOF.
	NoDone Scenario = "nodone"
	// KeepAlive sends SSE comment lines only, every Options.KeepAliveEvery,
	// until the client goes away.
	KeepAlive Scenario = "keepalive"
	// HugeLine sends one data line of Options.HugeLineBytes (10 MB default).
	HugeLine Scenario = "hugeline"
	// BadUTF8 puts invalid UTF-8 bytes inside a delta's JSON string.
	BadUTF8 Scenario = "badutf8"
	// SlowFirst waits Options.FirstDelay before the first chunk.
	SlowFirst Scenario = "slowfirst"
	// Tool streams Options.CutAfter chunks of text, then a call of the
	// transfer_to_human tool (the name first, the arguments in a second
	// chunk, as OpenAI streams them), finish reason "tool_calls", [DONE].
	Tool Scenario = "tool"
	// ToolStall is Tool that goes silent right after the chunk naming the
	// function: a client must act on the call, not on the stream's end.
	ToolStall Scenario = "toolstall"
	// ToolHold is Tool with the call complete (name and arguments), then
	// silence until the client leaves: no finish reason, no [DONE]. A
	// client must act on the complete call, not on the stream's end.
	ToolHold Scenario = "toolhold"
	// Marker streams Options.CutAfter chunks of text, then the text marker
	// "<<handoff>>" cut over several chunks, then goes silent until the
	// client leaves (for upstreams without tools).
	Marker Scenario = "marker"
	// RateLimitedLong answers 429 with Retry-After: 60, longer than any
	// first-token budget: the client must give up at once.
	RateLimitedLong Scenario = "429long"
)

// ToolName is the function the Tool scenarios call; ToolReason the reason
// they give; HandoffMarker the text the Marker scenario writes.
const (
	ToolName      = "transfer_to_human"
	ToolReason    = "the visitor wants a refund, which needs a person"
	HandoffMarker = "<<handoff>>"
)

// Scenarios lists every scenario, for flag help and docs.
func Scenarios() []Scenario {
	return []Scenario{Normal, Echo, Unauthorized, RateLimited, ServerError,
		HTMLError, Stall, Cut, Drop, NoFinish, NoDone, KeepAlive, HugeLine, BadUTF8, SlowFirst,
		Tool, ToolStall, ToolHold, Marker, RateLimitedLong}
}

// Valid reports whether s names a known scenario.
func (s Scenario) Valid() bool {
	for _, k := range Scenarios() {
		if s == k {
			return true
		}
	}
	return false
}

const (
	markerOpen  = "[[fake:"
	markerClose = "]]"
	modelPrefix = "fake-"
)

// markerIn returns the scenario named by the first marker in text, and text
// without that marker.
func markerIn(text string) (Scenario, string, bool) {
	i := strings.Index(text, markerOpen)
	if i < 0 {
		return "", text, false
	}
	rest := text[i+len(markerOpen):]
	j := strings.Index(rest, markerClose)
	if j < 0 {
		return "", text, false
	}
	s := Scenario(strings.ToLower(strings.TrimSpace(rest[:j])))
	if !s.Valid() {
		return "", text, false
	}
	clean := strings.TrimSpace(text[:i] + rest[j+len(markerClose):])
	return s, clean, true
}

// fromModel returns the scenario named by a "fake-NAME" model.
func fromModel(model string) (Scenario, bool) {
	if !strings.HasPrefix(model, modelPrefix) {
		return "", false
	}
	s := Scenario(strings.TrimPrefix(model, modelPrefix))
	return s, s.Valid()
}
