package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"
)

// clientFrames lists, for each frame type a client may send, the exact keys
// it may carry. encoding/json matches keys case-insensitively and ignores
// duplicates; the decoder checks keys against this table first so neither
// slips through.
type frameSpec struct {
	keys []string
	new  func() any
}

var clientFrames = map[string]frameSpec{
	TypeHello:       {keys: []string{"type", "token", "conversation_id", "last_seq", "fingerprint", "lang", "locale", "tz", "referrer"}, new: func() any { return new(Hello) }},
	TypeMessage:     {keys: []string{"type", "id", "text", "intent", "page_url", "page_title"}, new: func() any { return new(Send) }},
	TypeTyping:      {keys: []string{"type", "on"}, new: func() any { return new(Typing) }},
	TypeIdentify:    {keys: []string{"type", "traits"}, new: func() any { return new(Identify) }},
	TypeFingerprint: {keys: []string{"type", "fingerprint"}, new: func() any { return new(Fingerprint) }},
}

// agentFrames is the same table for the agent socket.
var agentFrames = map[string]frameSpec{
	TypeHello:    {keys: []string{"type", "status", "positions"}, new: func() any { return new(AgentHello) }},
	TypeWatch:    {keys: []string{"type", "conversation_id", "last_seq"}, new: func() any { return new(Watch) }},
	TypeUnwatch:  {keys: []string{"type", "conversation_id"}, new: func() any { return new(ConvRef) }},
	TypeMessage:  {keys: []string{"type", "conversation_id", "id", "text"}, new: func() any { return new(AgentSend) }},
	TypeTyping:   {keys: []string{"type", "conversation_id", "on"}, new: func() any { return new(AgentTyping) }},
	TypeTake:     {keys: []string{"type", "conversation_id"}, new: func() any { return new(ConvRef) }},
	TypeTransfer: {keys: []string{"type", "conversation_id", "to"}, new: func() any { return new(Transfer) }},
	TypeClose:    {keys: []string{"type", "conversation_id"}, new: func() any { return new(ConvRef) }},
	TypePresence: {keys: []string{"type", "status"}, new: func() any { return new(Presence) }},
	TypeNote:     {keys: []string{"type", "conversation_id", "id", "text"}, new: func() any { return new(AgentNote) }},
}

// Limits on fields every client frame shares. Message text length is a
// relay setting and is checked by the relay, not here.
const (
	MaxIDLen          = 64
	MaxTokenLen       = 128
	MaxFingerprintLen = 64
	MaxLangLen        = 35 // a BCP 47 tag as browsers write them
	MaxTraits         = 20
	MaxTraitKeyLen    = 32
	MaxTraitValueLen  = 256
	// Visitor context (docs/protocol.md): the widget cuts what it sends
	// to these; a longer value is refused, not cut, so nothing is stored
	// that the page did not say.
	MaxURLLen   = 2048
	MaxTitleLen = 512
	MaxTZLen    = 64
	maxDepth    = 8
)

// Decode parses one client frame strictly. It returns *Hello, *Send,
// *Typing, *Identify or *Fingerprint, or an *Error saying exactly what is
// wrong. It never panics.
func Decode(data []byte) (any, error) { return decodeWith(clientFrames, data) }

// DecodeAgent parses one agent-socket frame as strictly as Decode: it
// returns *AgentHello, *Watch, *ConvRef (unwatch, take, close), *AgentSend,
// *AgentTyping, *Transfer, *Presence or *AgentNote.
func DecodeAgent(data []byte) (any, error) { return decodeWith(agentFrames, data) }

// decodeWith walks the frame once (shape, duplicates, depth, its type and
// top-level keys), checks the keys against the type's table, then fills
// the frame's struct. Frame structs hold no nested structs, so checking
// the top-level keys exactly is checking them all (TestFrameStructsFlat).
func decodeWith(table map[string]frameSpec, data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, Errorf(CodeBadUTF8, "")
	}
	if v, ok, err := decodeFlat(table, data); ok {
		return v, err
	}
	return decodeFull(table, data)
}

// decodeFull is decodeWith for any frame (data is valid UTF-8).
func decodeFull(table map[string]frameSpec, data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, Errorf(CodeBadFrame, "")
	}
	var typ string
	var keys []string
	w := walker{dec: dec, what: "frame", keys: &keys, typ: &typ}
	if err := w.object(free, 1, ""); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, Errorf(CodeBadFrame, "trailing data after the frame")
	}
	if typ == "" {
		return nil, Errorf(CodeBadField, `field "type" must be a non-empty string`)
	}
	spec, ok := table[typ]
	if !ok {
		return nil, Errorf(CodeUnknownType, fmt.Sprintf("unknown frame type %q", clip(typ)))
	}
	for _, k := range keys {
		if !contains(spec.keys, k) {
			return nil, Errorf(CodeUnknownField, fmt.Sprintf("unknown field %q in %s frame", clip(k), typ))
		}
	}
	v := spec.new()
	if err := unmarshal(data, v); err != nil {
		return nil, err
	}
	if err := Validate(v); err != nil {
		return nil, err
	}
	return v, nil
}
