package ai

import (
	"encoding/json"
	"unicode/utf8"
)

// streamChunk is what the relay reads of one chunk of a streamed chat
// completion: the rest (id, model, fingerprint, logprobs…) is skipped.
type streamChunk struct {
	Choices []streamChoice `json:"choices"`
	Usage   *usage         `json:"usage"`
}

type streamChoice struct {
	Index        int    `json:"index"`
	Delta        delta  `json:"delta"`
	FinishReason string `json:"finish_reason"`
}

// chunkDecoder decodes chunks into one reused streamChunk. Every chunk of
// a stream used to go through json.Unmarshal into go-openai's full
// response type: with one word per chunk that was most of the relay's CPU
// per chunk. decode reads the common shape (text deltas, a finish reason,
// "usage":null) with a strict hand-written scanner, and hands anything
// else (tool calls, a usage object, escapes it cannot take, any doubt) to
// encoding/json, so the result is always exactly what json.Unmarshal into
// streamChunk gives (FuzzChunkDecoder holds it to that).
type chunkDecoder struct {
	c       streamChunk
	choices []streamChoice // the fast path's reused backing array
}

// decode returns the chunk in data; it is valid until the next call.
func (d *chunkDecoder) decode(data []byte) (*streamChunk, error) {
	d.c = streamChunk{Choices: d.choices[:0]}
	if d.fast(data) {
		d.choices = d.c.Choices
		return &d.c, nil
	}
	d.c = streamChunk{}
	if err := json.Unmarshal(data, &d.c); err != nil {
		return nil, err
	}
	return &d.c, nil
}

// maxFastDepth bounds the nesting the fast path skips; deeper documents
// go to encoding/json (which has its own limit).
const maxFastDepth = 64

// fast decodes data into d.c if it is a JSON object of the common shape;
// false means "not decided here", never "invalid".
func (d *chunkDecoder) fast(data []byte) bool {
	s := scanner{b: data}
	s.ws()
	var seenChoices, seenUsage bool
	ok := s.object(func(key []byte) bool {
		switch k := fieldIndex(key, "choices", "usage"); k {
		case 0:
			if seenChoices {
				return false // a repeated key: encoding/json's business
			}
			seenChoices = true
			return d.choicesArray(&s)
		case 1:
			if seenUsage {
				return false // encoding/json merges a repeated object
			}
			seenUsage = true
			if s.null() {
				return true
			}
			return d.usageObject(&s)
		case -1:
			return s.skip(0)
		}
		return false
	})
	if !ok {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}

// usageObject reads the usage every answer ends with (stream_options
// include_usage): it went to encoding/json, the one chunk of each answer
// that did.
func (d *chunkDecoder) usageObject(s *scanner) bool {
	var u usage
	var seen [3]bool
	ok := s.object(func(key []byte) bool {
		k := fieldIndex(key, "prompt_tokens", "completion_tokens", "total_tokens")
		if k >= 0 {
			if seen[k] {
				return false
			}
			seen[k] = true
		}
		var n int
		ok := false
		switch k {
		case -1:
			return s.skip(0) // the details objects, and what comes later
		case 0, 1, 2:
			n, ok = s.smallInt()
		}
		switch k {
		case 0:
			u.PromptTokens = n
		case 1:
			u.CompletionTokens = n
		case 2:
			u.TotalTokens = n
		}
		return ok
	})
	if ok {
		d.c.Usage = &u
	}
	return ok
}

func (d *chunkDecoder) choicesArray(s *scanner) bool {
	if s.null() {
		d.c.Choices = nil
		return true
	}
	return s.array(func() bool {
		d.c.Choices = append(d.c.Choices, streamChoice{})
		ch := &d.c.Choices[len(d.c.Choices)-1]
		var seen [3]bool
		return s.object(func(key []byte) bool {
			k := fieldIndex(key, "index", "delta", "finish_reason")
			if k >= 0 {
				if seen[k] {
					return false
				}
				seen[k] = true
			}
			switch k {
			case 0:
				n, ok := s.smallInt()
				ch.Index = n
				return ok
			case 1:
				return s.object(func(key []byte) bool {
					switch fieldIndex(key, "content", "role", "refusal", "reasoning_content", "tool_calls", "function_call") {
					case 0:
						return s.str(&ch.Delta.Content)
					case 1:
						return s.str(&ch.Delta.Role)
					case 2:
						return s.null() // a refusal is rare: encoding/json
					case 3:
						return s.null()
					case -1:
						return s.skip(0)
					}
					return false // tool calls: encoding/json
				})
			case 2:
				if s.null() {
					return true
				}
				return s.str(&ch.FinishReason)
			case -1:
				return s.skip(0)
			}
			return false
		})
	})
}

// fieldIndex returns the index of the name key equals, -1 if key is none of
// names nor could encoding/json take it for one (it matches field names
// case-insensitively, with Unicode folding), and -2 when in doubt.
func fieldIndex(key []byte, names ...string) int {
	for i, n := range names {
		if string(key) == n {
			return i
		}
	}
	for _, c := range key {
		if c >= utf8.RuneSelf || c == '\\' {
			return -2
		}
	}
	for _, n := range names {
		if len(n) == len(key) && equalFoldASCII(key, n) {
			return -2
		}
	}
	return -1
}

func equalFoldASCII(b []byte, s string) bool {
	for i := range b {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// scanner is a strict JSON scanner over one document: every method
// consumes a complete, valid value or reports false.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object reads {"key": value, ...}; field is called with the raw key (no
// quotes, escapes undecoded) positioned at the value, which it must read.
func (s *scanner) object(field func(key []byte) bool) bool {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for {
		s.ws()
		start := s.i + 1
		if _, ok := s.rawString(); !ok {
			return false
		}
		key := s.b[start : s.i-1]
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.ws()
		if !field(key) {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// array reads [value, ...]; elem is called positioned at each value.
func (s *scanner) array(elem func() bool) bool {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '[' {
		return false
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return true
	}
	for {
		s.ws()
		if !elem() {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// null consumes a null literal if one is next.
func (s *scanner) null() bool {
	if len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// rawString consumes a string and reports whether it had escapes.
func (s *scanner) rawString() (escaped bool, ok bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false, false
	}
	for s.i++; s.i < len(s.b); s.i++ {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return escaped, true
		case c < 0x20:
			return false, false
		case c == '\\':
			escaped = true
			s.i++
			if s.i >= len(s.b) {
				return false, false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(s.b)-s.i < 5 {
					return false, false
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						return false, false
					}
				}
				s.i += 4
			default:
				return false, false
			}
		}
	}
	return false, false
}

// str reads a string value into *dst. A string with escapes or bytes that
// are not UTF-8 is decoded by encoding/json (it replaces bad bytes with
// U+FFFD), so the text is the same either way.
func (s *scanner) str(dst *string) bool {
	start := s.i
	escaped, ok := s.rawString()
	if !ok {
		return false
	}
	raw := s.b[start+1 : s.i-1]
	if !escaped && utf8.Valid(raw) {
		*dst = string(raw)
		return true
	}
	return json.Unmarshal(s.b[start:s.i], dst) == nil
}

// smallInt reads an integer of at most 9 digits (a choice index).
func (s *scanner) smallInt() (int, bool) {
	neg := s.i < len(s.b) && s.b[s.i] == '-'
	if neg {
		s.i++
	}
	start, n := s.i, 0
	for s.i < len(s.b) && isDigit(s.b[s.i]) && s.i-start < 10 {
		n = n*10 + int(s.b[s.i]-'0')
		s.i++
	}
	digits := s.i - start
	if digits == 0 || digits > 9 || digits > 1 && s.b[start] == '0' {
		return 0, false
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E':
			return 0, false // a number, but not an int: encoding/json
		}
	}
	if neg {
		n = -n
	}
	return n, true
}

// skip consumes any valid value.
func (s *scanner) skip(depth int) bool {
	if depth > maxFastDepth || s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(func([]byte) bool { return s.skip(depth + 1) })
	case c == '[':
		return s.array(func() bool { return s.skip(depth + 1) })
	case c == '"':
		_, ok := s.rawString()
		return ok
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.null()
	case c == '-' || isDigit(c):
		return s.number()
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// number consumes -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
func (s *scanner) number() bool {
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if !s.digits() {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && isDigit(s.b[s.i]) {
		s.i++
	}
	return s.i > start
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
