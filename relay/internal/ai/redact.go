package ai

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxErrorMessage bounds an upstream message kept in an error.
const maxErrorMessage = 300

// minEchoRun is the shortest token treated as an echo of part of the key.
const minEchoRun = 8

// redact makes an upstream message safe for logs and errors: the key, any
// token of 8+ characters that is a piece of the key (proxies echo a
// prefix or a suffix), and anything the output filter calls key-like are
// replaced; control characters become spaces; the result is shortened.
func redact(msg, key string) string {
	if key != "" {
		msg = strings.ReplaceAll(msg, key, replacement)
		var b strings.Builder
		for {
			i := strings.IndexFunc(msg, func(r rune) bool { return r < utf8.RuneSelf && isTokenByte(byte(r)) })
			if i < 0 {
				b.WriteString(msg)
				break
			}
			b.WriteString(msg[:i])
			msg = msg[i:]
			j := strings.IndexFunc(msg, func(r rune) bool { return r >= utf8.RuneSelf || !isTokenByte(byte(r)) })
			if j < 0 {
				j = len(msg)
			}
			run := msg[:j]
			if len(run) >= minEchoRun && strings.Contains(key, run) {
				run = replacement
			}
			b.WriteString(run)
			msg = msg[j:]
		}
		msg = b.String()
	}
	msg = FilterString(msg)
	msg = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(msg, "\uFFFD"))
	msg = strings.TrimSpace(msg)
	if len(msg) > maxErrorMessage {
		cut := maxErrorMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}
