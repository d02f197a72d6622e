package ai

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestStreamReusesReaders: answers one after another on one Client read
// their own streams whole, whatever the reader kept from the one before
// (a finished stream, comment lines, a line longer than the buffer).
func TestStreamReusesReaders(t *testing.T) {
	chunk := func(content string) string {
		return `data: {"choices":[{"index":0,"delta":{"content":"` + content + `"},"finish_reason":null}]}` + "\n\n"
	}
	end := `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n"
	long := strings.Repeat("ab ", eventsBuffer) // spaces: not key-like to the filter
	tests := []struct{ name, body, want string }{
		{"plain", chunk("Hello") + chunk(" there") + end, "Hello there"},
		{"comments", ": keep-alive\n\n" + chunk("Second") + ": ping\n\n" + chunk(" answer") + end, "Second answer"},
		{"a long line", chunk(long) + chunk(" tail") + end, long + " tail"},
		{"after the long line", chunk("Fourth") + end, "Fourth"},
		{"plain again", chunk("Fifth") + end, "Fifth"},
	}
	var mu sync.Mutex
	next := 0
	o := fastOptions(t)
	o.Transport = roundTripFunc(func(req *http.Request) (*http.Response, error) {
		mu.Lock()
		body := tests[next].body
		next++
		mu.Unlock()
		_, _ = io.Copy(io.Discard, req.Body)
		return &http.Response{
			StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(bytes.NewReader([]byte(body))), Request: req,
		}, nil
	})
	o.MaxLineBytes = 8 * eventsBuffer
	c := newTestClient(t, o)
	s := settingsFor(t, "http://127.0.0.1:1/v1", testKey)
	msgs := BuildMessages(s, nil, userMsgs("hello?"))
	for _, tt := range tests {
		res, err := c.Stream(t.Context(), s, msgs, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if res.Text != tt.want || !res.Complete {
			t.Fatalf("%s: got %.40q (complete %v), want %.40q", tt.name, res.Text, res.Complete, tt.want)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
