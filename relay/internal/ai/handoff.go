package ai

import (
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// HandoffToolName is the function the model calls to pass the chat to a
// person (Settings.Handoff HandoffTool).
const HandoffToolName = "transfer_to_human"

// ErrHandoff: the model asked to pass the conversation to a person (the
// tool call or the text marker). Result.Text is what it said before, which
// is complete as far as it goes: store it, then hand off.
var ErrHandoff = errors.New("ai asked for a person")

// HandoffError says how the model asked for a person. It matches
// ErrHandoff.
type HandoffError struct {
	Via    string // "tool" or "marker"
	Reason string // the tool's reason argument, if it came with the call
}

func (e *HandoffError) Error() string {
	s := "ai asked for a person (" + e.Via + ")"
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Is makes errors.Is(err, ErrHandoff) true.
func (e *HandoffError) Is(target error) bool { return target == ErrHandoff }

// handoffTool is the tool offered to the model.
var handoffTool = tool{
	Type: toolTypeFunction,
	Function: &functionDefinition{
		Name: HandoffToolName,
		Description: "Pass this chat to a person on the business's team. Call it when the visitor asks for a person, " +
			"or when the business information does not answer the question.",
		Parameters: json.RawMessage(`{"type":"object","properties":{"reason":{"type":"string",` +
			`"description":"Why a person is needed, in a few words, for the team."}},"required":["reason"]}`),
	},
}

// toolArgsWait bounds the wait for the hand-off tool's arguments (its
// reason) after the function's name arrived: OpenAI streams them right
// after the name, many servers send the whole call in one chunk.
const toolArgsWait = 250 * time.Millisecond

// toolCall collects a streamed call of the hand-off tool.
type toolCall struct {
	name string
	args strings.Builder
}

// add takes one chunk's tool-call deltas and legacy function call; it
// reports whether a call of the hand-off tool is now known.
func (tc *toolCall) add(d delta) bool {
	for _, c := range d.ToolCalls {
		if c.Index != nil && *c.Index != 0 && tc.name != "" {
			continue // a second call: ours is already known
		}
		if c.Function.Name != "" {
			tc.name = c.Function.Name
		}
		tc.args.WriteString(c.Function.Arguments)
	}
	if fc := d.FunctionCall; fc != nil {
		if fc.Name != "" {
			tc.name = fc.Name
		}
		tc.args.WriteString(fc.Arguments)
	}
	return tc.name == HandoffToolName
}

// called reports whether the hand-off tool's name has arrived.
func (tc *toolCall) called() bool { return tc.name == HandoffToolName }

// complete reports whether the arguments are a whole JSON object.
func (tc *toolCall) complete() bool {
	a := strings.TrimSpace(tc.args.String())
	return strings.HasPrefix(a, "{") && json.Valid([]byte(a))
}

// reason reads the reason from the arguments received so far, complete or
// not: the first string value after "reason".
func (tc *toolCall) reason() string {
	var a struct {
		Reason string `json:"reason"`
	}
	raw := tc.args.String()
	if json.Unmarshal([]byte(raw), &a) == nil {
		return clip(a.Reason)
	}
	_, rest, ok := strings.Cut(raw, `"reason"`)
	if !ok {
		return ""
	}
	_, rest, ok = strings.Cut(rest, `"`)
	if !ok {
		return ""
	}
	val, _, _ := strings.Cut(rest, `"`)
	return clip(val)
}

func clip(s string) string {
	s = strings.TrimSpace(FilterString(s))
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

// toolsUnsupported reports an upstream refusing the tools field (some
// OpenAI-compatible servers answer 400 or 422 to it): the answer is asked
// again in marker mode.
func toolsUnsupported(ue *UpstreamError) bool {
	if ue.Status != 400 && ue.Status != 422 && ue.Status != 501 {
		return false
	}
	m := strings.ToLower(ue.Message + " " + ue.Code)
	return strings.Contains(m, "tool") || strings.Contains(m, "function")
}
