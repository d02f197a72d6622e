package openaitest

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// The wire format is built by hand with append functions rather than
// encoding/json: it keeps the per-chunk cost low enough for 1 000 concurrent
// streams, and it lets the BadUTF8 scenario put raw invalid bytes into a JSON
// string, which encoding/json would quietly repair.

// chunkHead carries the fields every chunk of one completion repeats.
type chunkHead struct {
	id      string
	created int64
	model   string
	usage   bool // include "usage":null, as OpenAI does with include_usage
	stamp   bool // add x_kefu_sent_ns to each chunk
}

// appendChunk appends one SSE event "data: {chunk}\n\n". An empty finish
// reason is written as null; role is written only when non-empty.
func appendChunk(b []byte, h chunkHead, role, content, finish string, sentNS int64) []byte {
	b = append(b, `data: {"id":`...)
	b = appendString(b, h.id)
	b = append(b, `,"object":"chat.completion.chunk","created":`...)
	b = strconv.AppendInt(b, h.created, 10)
	b = append(b, `,"model":`...)
	b = appendString(b, h.model)
	b = append(b, `,"system_fingerprint":"fp_fake","choices":[{"index":0,"delta":{`...)
	sep := false
	if role != "" {
		b = append(b, `"role":`...)
		b = appendString(b, role)
		sep = true
	}
	if content != "" || role != "" {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"content":`...)
		b = appendString(b, content)
	}
	b = append(b, `},"logprobs":null,"finish_reason":`...)
	if finish == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, finish)
	}
	b = append(b, "}]"...)
	if h.usage {
		b = append(b, `,"usage":null`...)
	}
	if h.stamp {
		b = append(b, `,"x_kefu_sent_ns":`...)
		b = strconv.AppendInt(b, sentNS, 10)
	}
	return append(b, "}\n\n"...)
}

// appendToolChunk appends one chunk of a streamed tool call: the first
// carries the call's id, type and function name with empty arguments;
// later ones (id == "") carry a piece of the arguments only.
func appendToolChunk(b []byte, h chunkHead, id, name, args string, sentNS int64) []byte {
	b = append(b, `data: {"id":`...)
	b = appendString(b, h.id)
	b = append(b, `,"object":"chat.completion.chunk","created":`...)
	b = strconv.AppendInt(b, h.created, 10)
	b = append(b, `,"model":`...)
	b = appendString(b, h.model)
	b = append(b, `,"system_fingerprint":"fp_fake","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,`...)
	if id != "" {
		b = append(b, `"id":`...)
		b = appendString(b, id)
		b = append(b, `,"type":"function","function":{"name":`...)
		b = appendString(b, name)
		b = append(b, `,"arguments":`...)
	} else {
		b = append(b, `"function":{"arguments":`...)
	}
	b = appendString(b, args)
	b = append(b, `}}]},"logprobs":null,"finish_reason":null}]`...)
	if h.usage {
		b = append(b, `,"usage":null`...)
	}
	if h.stamp {
		b = append(b, `,"x_kefu_sent_ns":`...)
		b = strconv.AppendInt(b, sentNS, 10)
	}
	return append(b, "}\n\n"...)
}

// appendUsageChunk appends the final usage chunk sent when the request asked
// for stream_options.include_usage: empty choices, filled usage.
func appendUsageChunk(b []byte, h chunkHead, prompt, completion int, sentNS int64) []byte {
	b = append(b, `data: {"id":`...)
	b = appendString(b, h.id)
	b = append(b, `,"object":"chat.completion.chunk","created":`...)
	b = strconv.AppendInt(b, h.created, 10)
	b = append(b, `,"model":`...)
	b = appendString(b, h.model)
	b = append(b, `,"system_fingerprint":"fp_fake","choices":[],"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(completion), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt+completion), 10)
	b = append(b, '}')
	if h.stamp {
		b = append(b, `,"x_kefu_sent_ns":`...)
		b = strconv.AppendInt(b, sentNS, 10)
	}
	return append(b, "}\n\n"...)
}

const doneEvent = "data: [DONE]\n\n"

// appendString appends s as a JSON string. Bytes that are not valid UTF-8
// are copied raw on purpose (see above); everything JSON requires escaped
// is escaped.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// splitWords cuts text the way OpenAI's tokenizer streams it: a word with
// its leading space (" word"), and each punctuation mark on its own.
func splitWords(text string) []string {
	var out []string
	start := 0
	isWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' }
	for i, r := range text {
		if i == start {
			continue
		}
		prev, _ := utf8.DecodeLastRuneInString(text[start:i])
		switch {
		case unicode.IsSpace(r) && !unicode.IsSpace(prev):
			// A space starts the next piece.
		case isWord(r) && (isWord(prev) || unicode.IsSpace(prev)):
			continue
		case unicode.IsSpace(r):
			continue
		}
		out = append(out, text[start:i])
		start = i
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

// splitRunes cuts text into pieces of at most n runes, never inside a rune.
func splitRunes(text string, n int) []string {
	if n <= 0 {
		n = 1
	}
	var out []string
	for len(text) > 0 {
		i, count := 0, 0
		for i < len(text) && count < n {
			_, size := utf8.DecodeRuneInString(text[i:])
			i += size
			count++
		}
		out = append(out, text[:i])
		text = text[i:]
	}
	return out
}
