package hub

import (
	"strconv"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/protocol"
)

// appendDelta appends d as json.Marshal encodes it, byte for byte
// (FuzzDeltaFrame holds it to that), without reflection: a streamed
// answer sends one delta frame per word, and encoding/json was the
// largest cost of a delta after the socket write.
func appendDelta(b []byte, d *protocol.Delta) []byte {
	b = append(b, `{"type":`...)
	b = appendJSONString(b, d.Type)
	b = append(b, `,"conversation_id":`...)
	b = appendJSONString(b, d.ConversationID)
	b = append(b, `,"stream_id":`...)
	b = appendJSONString(b, d.StreamID)
	b = append(b, `,"index":`...)
	b = strconv.AppendInt(b, int64(d.Index), 10)
	b = append(b, `,"text":`...)
	b = appendJSONString(b, d.Text)
	if d.Done {
		b = append(b, `,"done":true`...)
	}
	return append(b, '}')
}

// appendJSONString appends s quoted as encoding/json does by default:
// HTML-safe (<, >, & as \u003c…), U+2028 and U+2029 escaped, bytes that
// are not UTF-8 replaced by \ufffd.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
