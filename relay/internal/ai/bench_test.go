package ai

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
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

// BenchmarkStreamChunks measures the client's own cost per streamed chunk
// (reading the SSE body, decoding each chunk, the watchdog, the output
// filter, delivery) on OpenAI-style " word" chunks served from memory, so
// neither a network nor a fake upstream shares the profile. Its ns/chunk
// is the relay's CPU per chunk before the hub (docs/benchmarks.md).
func BenchmarkStreamChunks(b *testing.B) {
	const words = 200
	body, chunks := wordStream(words)
	o := fastOptions(b)
	o.Logger = nil
	o.Transport = cannedTransport(body)
	c := newTestClient(b, o)
	s := settingsFor(b, "http://127.0.0.1:1/v1", testKey)
	msgs := BuildMessages(s, nil, userMsgs("when are you open?"))
	var n int
	onDelta := func(text string) error { n += len(text); return nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Stream(b.Context(), s, msgs, onDelta); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*chunks), "ns/chunk")
}

// wordStream is an SSE body as OpenAI streams it: a role chunk, one
// " word" per chunk, a finish chunk, a usage chunk and [DONE].
func wordStream(words int) ([]byte, int) {
	head := `data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":[{"index":0,"delta":{`
	tail := `},"logprobs":null,"finish_reason":%s}]}` + "\n\n"
	var sb strings.Builder
	sb.WriteString(head + `"role":"assistant","content":"","refusal":null` + fmt.Sprintf(tail, "null"))
	vocab := strings.Fields("Thanks for asking! Orders ship within one business day and usually arrive in three to five days; the tracking link is in your email.")
	for i := range words {
		sb.WriteString(head + `"content":" ` + vocab[i%len(vocab)] + `"` + fmt.Sprintf(tail, "null"))
	}
	sb.WriteString(head + fmt.Sprintf(tail, `"stop"`))
	sb.WriteString(`data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":200,"total_tokens":219}}` + "\n\n")
	sb.WriteString("data: [DONE]\n\n")
	return []byte(sb.String()), words + 3
}

// cannedTransport answers every request with a 200 event stream of body.
type cannedTransport []byte

func (t cannedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"text/event-stream"}},
		Body:    io.NopCloser(bytes.NewReader(t)),
		Request: req,
	}, nil
}
