package main

import (
	"math"
	"strconv"

	"github.com/kefuhq/kefu/router"
)

// appendResultJSON appends r as the JSON object classify returns and
// reports whether it could: a score that is not a finite number has no
// JSON form. The widget gets the object from one JSON.parse: handing
// JavaScript a map made syscall/js create and set every key, array and
// string one call at a time, each object and string with a finalizer,
// which was a quarter of classify in Node (bench/notes.md, Widget).
func appendResultJSON(b []byte, r router.Result) ([]byte, bool) {
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	if !finite(r.Score) || !finite(r.Confidence) {
		return b, false
	}
	b = append(b, `{"intent":`...)
	b = appendJSONString(b, r.Intent)
	b = append(b, `,"score":`...)
	b = strconv.AppendFloat(b, r.Score, 'g', -1, 64)
	b = append(b, `,"matched":`...)
	b = strconv.AppendBool(b, r.Matched)
	b = append(b, `,"confidence":`...)
	b = strconv.AppendFloat(b, r.Confidence, 'g', -1, 64)
	b = append(b, `,"answer":`...)
	b = appendJSONString(b, r.Answer)
	b = append(b, `,"action":`...)
	b = appendJSONString(b, string(r.Action))
	b = append(b, `,"skill":`...)
	b = appendJSONString(b, r.Skill)
	b = append(b, `,"ranked":[`...)
	for i, m := range r.Ranked {
		if !finite(m.Score) {
			return b, false
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"intent":`...)
		b = appendJSONString(b, m.Intent)
		b = append(b, `,"score":`...)
		b = strconv.AppendFloat(b, m.Score, 'g', -1, 64)
		b = append(b, '}')
	}
	b = append(b, `],"choices":[`...)
	for i, c := range r.Choices {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"intent":`...)
		b = appendJSONString(b, c.Intent)
		b = append(b, `,"question":`...)
		b = appendJSONString(b, c.Question)
		b = append(b, `,"answer":`...)
		b = appendJSONString(b, c.Answer)
		b = append(b, '}')
	}
	return append(b, "]}"...), true
}

// appendJSONString appends s as a JSON string. Only the quote, the
// backslash and control characters are escaped; every other byte is
// copied, so bytes that are not UTF-8 reach JavaScript's decoder as
// they did when each string was passed on its own.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// resultMap is r as a map for js.ValueOf: the form classify returned
// before appendResultJSON, kept for results with no JSON form.
func resultMap(r router.Result) map[string]any {
	ranked := make([]any, 0, len(r.Ranked))
	for _, m := range r.Ranked {
		ranked = append(ranked, map[string]any{"intent": m.Intent, "score": m.Score})
	}
	choices := make([]any, 0, len(r.Choices))
	for _, c := range r.Choices {
		choices = append(choices, map[string]any{"intent": c.Intent, "question": c.Question, "answer": c.Answer})
	}
	return map[string]any{
		"intent": r.Intent, "score": r.Score, "matched": r.Matched, "confidence": r.Confidence,
		"answer": r.Answer, "action": string(r.Action), "skill": r.Skill,
		"ranked": ranked, "choices": choices,
	}
}
