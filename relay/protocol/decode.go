package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
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
	TypeHello:       {keys: []string{"type", "token", "conversation_id", "last_seq", "fingerprint"}, new: func() any { return new(Hello) }},
	TypeMessage:     {keys: []string{"type", "id", "text", "intent"}, new: func() any { return new(Send) }},
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
}

// Limits on fields every client frame shares. Message text length is a
// relay setting and is checked by the relay, not here.
const (
	MaxIDLen          = 64
	MaxTokenLen       = 128
	MaxFingerprintLen = 64
	MaxTraits         = 20
	MaxTraitKeyLen    = 32
	MaxTraitValueLen  = 256
	maxDepth          = 8
)

// Decode parses one client frame strictly. It returns *Hello, *Send or *Typing,
// or an *Error saying exactly what is wrong. It never panics.
func Decode(data []byte) (any, error) { return decodeWith(clientFrames, data) }

// DecodeAgent parses one agent-socket frame as strictly as Decode: it
// returns *AgentHello, *Watch, *ConvRef (unwatch, take, close), *AgentSend,
// *AgentTyping, *Transfer or *Presence.
func DecodeAgent(data []byte) (any, error) { return decodeWith(agentFrames, data) }

func decodeWith(table map[string]frameSpec, data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, Errorf(CodeBadUTF8, "")
	}
	typ, keys, err := scanObject(data)
	if err != nil {
		return nil, err
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
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, Errorf(CodeBadField, fmt.Sprintf("field %q must be a %s", te.Field, jsonKind(te.Type.Kind().String())))
		}
		return nil, Errorf(CodeBadFrame, "frame is not valid JSON")
	}
	if err := Validate(v); err != nil {
		return nil, err
	}
	return v, nil
}

// scanObject checks that data is exactly one JSON object with no duplicate
// key at any depth, and returns its "type" and its top-level keys.
func scanObject(data []byte) (typ string, keys []string, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return "", nil, Errorf(CodeBadFrame, "")
	}
	typ, keys, err = scanMembers(dec, 1, true)
	if err != nil {
		return "", nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", nil, Errorf(CodeBadFrame, "trailing data after the frame")
	}
	if typ == "" {
		return "", nil, Errorf(CodeBadField, `field "type" must be a non-empty string`)
	}
	return typ, keys, nil
}

// scanMembers reads an object's members after its opening brace.
func scanMembers(dec *json.Decoder, depth int, top bool) (typ string, keys []string, err error) {
	if depth > maxDepth {
		return "", nil, Errorf(CodeBadFrame, "frame nested too deeply")
	}
	seen := map[string]bool{}
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", nil, Errorf(CodeBadFrame, "frame is not valid JSON")
		}
		if tok == json.Delim('}') {
			return typ, keys, nil
		}
		key, ok := tok.(string)
		if !ok {
			return "", nil, Errorf(CodeBadFrame, "frame is not valid JSON")
		}
		if seen[key] {
			return "", nil, Errorf(CodeDuplicateKey, fmt.Sprintf("duplicate key %q", clip(key)))
		}
		seen[key] = true
		if top {
			keys = append(keys, key)
		}
		val, err := dec.Token()
		if err != nil {
			return "", nil, Errorf(CodeBadFrame, "frame is not valid JSON")
		}
		if top && key == "type" {
			s, ok := val.(string)
			if !ok {
				return "", nil, Errorf(CodeBadField, `field "type" must be a string`)
			}
			typ = s
		}
		if d, ok := val.(json.Delim); ok {
			if err := skipValue(dec, d, depth+1); err != nil {
				return "", nil, err
			}
		}
	}
}

func skipValue(dec *json.Decoder, open json.Delim, depth int) error {
	if open == '{' {
		_, _, err := scanMembers(dec, depth, false)
		return err
	}
	if depth > maxDepth {
		return Errorf(CodeBadFrame, "frame nested too deeply")
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return Errorf(CodeBadFrame, "frame is not valid JSON")
		}
		if tok == json.Delim(']') {
			return nil
		}
		if d, ok := tok.(json.Delim); ok {
			if err := skipValue(dec, d, depth+1); err != nil {
				return err
			}
		}
	}
}

// Validate checks the field values of a decoded client frame (Decode calls
// it; the HTTP API calls it on the same structs).
func Validate(v any) error {
	switch f := v.(type) {
	case *Hello:
		if len(f.Token) > MaxTokenLen || !printableASCII(f.Token) {
			return Errorf(CodeBadField, `field "token" is not a token this relay issues`)
		}
		if len(f.ConversationID) > MaxIDLen || !printableASCII(f.ConversationID) {
			return Errorf(CodeBadField, `field "conversation_id" is malformed`)
		}
		if len(f.Fingerprint) > MaxFingerprintLen || !isHex(f.Fingerprint) {
			return Errorf(CodeBadField, `field "fingerprint" must be at most 64 hex digits`)
		}
	case *Send:
		if err := checkIDText(f.ID, f.Text); err != nil {
			return err
		}
		if len(f.Intent) > MaxIDLen*2 {
			return Errorf(CodeBadField, `field "intent" is too long`)
		}
	case *Identify:
		if len(f.Traits) > MaxTraits {
			return Errorf(CodeBadField, fmt.Sprintf(`field "traits" has more than %d entries`, MaxTraits))
		}
		for k, v := range f.Traits {
			if !traitKey(k) {
				return Errorf(CodeBadField, fmt.Sprintf("trait name %q must be 1 to 32 of a-z, 0-9, _", clip(k)))
			}
			if len(v) > MaxTraitValueLen {
				return Errorf(CodeBadField, fmt.Sprintf("trait %q is longer than %d bytes", k, MaxTraitValueLen))
			}
		}
	case *Fingerprint:
		if len(f.Fingerprint) != MaxFingerprintLen || !isHex(f.Fingerprint) {
			return Errorf(CodeBadField, `field "fingerprint" must be 64 hex digits`)
		}
	case *AgentSend:
		if err := checkConv(f.ConversationID); err != nil {
			return err
		}
		return checkIDText(f.ID, f.Text)
	case *Watch:
		return checkConv(f.ConversationID)
	case *ConvRef:
		return checkConv(f.ConversationID)
	case *AgentTyping:
		return checkConv(f.ConversationID)
	case *Transfer:
		if err := checkConv(f.ConversationID); err != nil {
			return err
		}
		if f.To == "" || len(f.To) > MaxIDLen || !printableASCII(f.To) {
			return Errorf(CodeBadField, `field "to" must be an agent id or "queue"`)
		}
	case *AgentHello:
		if f.Status != "" && f.Status != StatusOnline && f.Status != StatusAway {
			return Errorf(CodeBadField, `field "status" must be "online" or "away"`)
		}
		if len(f.Positions) > MaxPositions {
			return Errorf(CodeBadField, fmt.Sprintf(`field "positions" has more than %d entries`, MaxPositions))
		}
		for id := range f.Positions {
			if err := checkConv(id); err != nil {
				return err
			}
		}
	case *Presence:
		if f.Status != StatusOnline && f.Status != StatusAway {
			return Errorf(CodeBadField, `field "status" must be "online" or "away"`)
		}
	}
	return nil
}

func traitKey(k string) bool {
	if k == "" || len(k) > MaxTraitKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func checkIDText(id, text string) error {
	if id == "" || len(id) > MaxIDLen || !printableASCII(id) {
		return Errorf(CodeBadField, `field "id" must be 1 to 64 printable ASCII characters`)
	}
	if strings.TrimSpace(text) == "" {
		return Errorf(CodeBadField, `field "text" must not be empty`)
	}
	return nil
}

func checkConv(id string) error {
	if id == "" || len(id) > MaxIDLen || !printableASCII(id) {
		return Errorf(CodeBadField, `field "conversation_id" is malformed`)
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// clip keeps echoed client text short in error messages.
func clip(s string) string {
	if len(s) <= 40 {
		return s
	}
	for i := 40; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "uint64", "int", "int64", "float64":
		return "non-negative whole number"
	}
	return goKind
}
