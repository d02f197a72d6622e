package protocol

import (
	"encoding/json"
	"strconv"
)

// decodeFlat is decodeWith's fast path for the frame sent most, a message,
// and for the first frame of every connection, a visitor's hello: one
// object whose members are all strings (a hello's last_seq a plain
// unsigned integer), keys written plainly (no escapes), nothing nested.
// It fills the frame straight from the bytes in one pass instead of a
// token walk and a reflective decode (together ~18 µs of the relay's ~165
// µs per message at saturation; for a hello, a json.Decoder's buffers per
// connect, issue 16). Anything else
// gives ok false and the full decoder decides, with its exact errors; what
// this accepts, the full decoder accepts with the same result
// (FuzzDecodeFlat). data is valid UTF-8.
func decodeFlat(table map[string]frameSpec, data []byte) (v any, ok bool, err error) {
	var members [10]struct {
		key, val []byte
		num      bool // val is an unsigned integer's digits, not a string
	}
	n := 0
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, false, nil
	}
	for {
		i = skipSpace(data, i+1)
		if n == len(members) {
			return nil, false, nil
		}
		key, end, esc := scanString(data, i)
		if end < 0 || esc {
			return nil, false, nil
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return nil, false, nil
		}
		i = skipSpace(data, i+1)
		val, end, esc := scanString(data, i)
		num := false
		if end < 0 {
			if val, end = scanUint(data, i); end < 0 {
				return nil, false, nil
			}
			num = true
		}
		if esc {
			var s string
			if json.Unmarshal(data[i:end], &s) != nil {
				return nil, false, nil
			}
			val = []byte(s)
		}
		for _, m := range members[:n] {
			if string(m.key) == string(key) {
				return nil, false, nil // a duplicate: the full decoder names it
			}
		}
		members[n].key, members[n].val, members[n].num = key, val, num
		n++
		i = skipSpace(data, end)
		if i < len(data) && data[i] == ',' {
			continue
		}
		if i >= len(data) || data[i] != '}' {
			return nil, false, nil
		}
		if skipSpace(data, i+1) != len(data) {
			return nil, false, nil
		}
		break
	}
	typ := ""
	for _, m := range members[:n] {
		if string(m.key) == "type" {
			typ = string(m.val)
		}
	}
	if typ != TypeMessage && typ != TypeHello {
		return nil, false, nil
	}
	spec, found := table[typ]
	if !found {
		return nil, false, nil
	}
	for _, m := range members[:n] {
		if !contains(spec.keys, string(m.key)) {
			return nil, false, nil
		}
	}
	v = spec.new()
	for _, m := range members[:n] {
		if !setMember(v, string(m.key), string(m.val), m.num) {
			return nil, false, nil
		}
	}
	if err := Validate(v); err != nil {
		return nil, true, err
	}
	return v, true, nil
}

// setMember sets a frame's field by its JSON key: a string, or for num
// the digits of an unsigned integer.
func setMember(v any, key, val string, num bool) bool {
	if h, ok := v.(*Hello); ok {
		return setHello(h, key, val, num)
	}
	if num {
		return false
	}
	switch f := v.(type) {
	case *Send:
		switch key {
		case "type":
			f.Type = val
		case "id":
			f.ID = val
		case "text":
			f.Text = val
		case "intent":
			f.Intent = val
		case "page_url":
			f.PageURL = val
		case "page_title":
			f.PageTitle = val
		default:
			return false
		}
	case *AgentSend:
		switch key {
		case "type":
			f.Type = val
		case "conversation_id":
			f.ConversationID = val
		case "id":
			f.ID = val
		case "text":
			f.Text = val
		default:
			return false
		}
	default:
		return false
	}
	return true
}

func setHello(f *Hello, key, val string, num bool) bool {
	if key == "last_seq" {
		n, err := strconv.ParseUint(val, 10, 64)
		f.LastSeq = n
		return num && err == nil
	}
	if num {
		return false
	}
	switch key {
	case "type":
		f.Type = val
	case "token":
		f.Token = val
	case "conversation_id":
		f.ConversationID = val
	case "fingerprint":
		f.Fingerprint = val
	case "lang":
		f.Lang = val
	case "locale":
		f.Locale = val
	case "tz":
		f.TZ = val
	case "referrer":
		f.Referrer = val
	default:
		return false
	}
	return true
}

// scanUint reads the digits of a JSON number at data[i] that is an
// unsigned integer written plainly ("0", "12"; no sign, fraction,
// exponent or leading zero): the digits and the index after them, or
// end -1.
func scanUint(data []byte, i int) (digits []byte, end int) {
	j := i
	for j < len(data) && '0' <= data[j] && data[j] <= '9' {
		j++
	}
	if j == i || data[i] == '0' && j > i+1 {
		return nil, -1
	}
	return data[i:j], j
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// scanString reads the JSON string starting at data[i] (its opening
// quote). It returns the bytes between the quotes, the index after the
// closing one (-1: not a string, or a control character in it), and
// whether it holds an escape.
func scanString(data []byte, i int) (s []byte, end int, esc bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, -1, false
	}
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return data[i+1 : j], j + 1, esc
		case c == '\\':
			esc = true
			j++ // the escaped character; json.Unmarshal checks the escape
		case c < 0x20:
			return nil, -1, false
		}
	}
	return nil, -1, false
}
