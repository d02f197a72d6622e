package ai

import (
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
)

// BenchmarkStream measures the client's own cost per answer (prompt, HTTP,
// SSE parsing, [DONE] detection, filtering) against a fake with no delays.
func BenchmarkStream(b *testing.B) {
	fake := openaitest.New(b, openaitest.Options{Text: strings.Repeat("Our opening hours are 9 to 17. ", 10), MaxLog: -1})
	o := fastOptions(b)
	o.Logger = nil
	c := newTestClient(b, o)
	s := settingsFor(b, fake.BaseURL, testKey)
	msgs := BuildMessages(s, []Grounding{{Name: "hours", Answer: "9 to 17"}}, userMsgs("when are you open?"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Stream(b.Context(), s, msgs, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkFilter measures the output filter on typical answer text in
// token-sized chunks.
func BenchmarkFilter(b *testing.B) {
	text := strings.Repeat("Thanks for asking! Our shop at Main Street 12 opens 9:00-17:00, see https://example.com/hours. ", 20)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		var f Filter
		for i := 0; i < len(text); i += 4 {
			f.Write(text[i:min(i+4, len(text))])
		}
		f.Flush()
	}
}
