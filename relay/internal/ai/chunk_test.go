package ai

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// chunkSeeds are chunks as upstreams send them, and shapes the fast path
// must hand to encoding/json or refuse.
var chunkSeeds = []string{
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}],"usage":null}`,
	`{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`,
	`{"id":"c","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29}}`,
	`{"id":"c","choices":[],"usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}`,
	`{"choices":[],"usage":{"prompt_tokens":1},"usage":{"total_tokens":2}}`,
	`{"choices":[],"usage":{"prompt_tokens":1,"prompt_tokens":2}}`,
	`{"choices":[],"usage":{"prompt_tokens":null,"total_tokens":3}}`,
	`{"choices":[],"usage":{"prompt_tokens":1.5}}`,
	`{"choices":[],"usage":{"Prompt_Tokens":7}}`,
	`{"choices":[],"usage":{"prompt_tokens":12345678901}}`,
	`{"choices":[],"usage":{}}`,
	`{"choices":[],"usage":[]}`,
	`{"choices":[{"index":0,"delta":{"content":"line\nbreak \"quoted\" \u00e9\ud83d\ude00"}}]}`,
	`{"choices":[{"index":0,"delta":{"content":"bad \xff utf8"}}]}`,
	`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"transfer_to_human","arguments":""}}]},"finish_reason":null}]}`,
	`{"choices":[{"index":0,"delta":{"function_call":{"name":"transfer_to_human","arguments":"{}"}}}]}`,
	`{"choices":[{"index":1,"delta":{"content":"other"}},{"index":0,"delta":{"content":"ours"}}]}`,
	`{"Choices":[{"index":0,"delta":{"content":"case"}}]}`,
	`{"choices":[{"INDEX":2,"delta":{"Content":"case"}}]}`,
	`{"choices":[{"index":0,"delta":{"content":"a","content":"b"}}]}`,
	`{"choices":[{"index":0,"delta":{"content":"a"}}],"choices":null}`,
	`{"choices":null}`,
	`{"choices":[{"index":"0","delta":{"content":"x"}}]}`,
	`{"choices":[{"index":1.0,"delta":{"content":"x"}}]}`,
	`{"choices":[{"index":-0,"delta":{"content":"x"},"finish_reason":"length"}]}`,
	`{"choices":[{"index":0,"delta":{"content":null}}]}`,
	`{"choices":[{"index":0,"delta":{"content":"x"}}]} trailing`,
	`{"choices":[{"index":0,"delta":{"content":"x"}}]`,
	`{"x":[1,2.5e-3,-0,true,false,null,{"y":[[]]},"s\/"],"choices":[]}`,
	`{"x":01}`, `{"x":1.}`, `{"x":.5}`, `{"x":"\x01"}`, `{"x":"\q"}`, `{"x":"\u12"}`,
	`[]`, `null`, `"s"`, ``, `{}`, ` { } `, `{"choices":[{}]}`,
	`{"chorus":1,"choices":[{"index":0,"delta":{"content":"x","reasoning_content":null},"finish_reason":null}]}`,
	`{"choices":[{"index":0,"delta":{"content":"x","refusal":"no"}}]}`,
	`{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop","finish_reason":null}]}`,
	`{"choiceſ":[{"index":0,"delta":{"content":"kelvin"}}]}`,
	`{"ch\u006fices":[{"index":0,"delta":{"content":"escaped key"}}]}`,
}

// TestChunkDecoder checks the decoder against encoding/json on the seeds,
// and that the common shape takes the fast path.
func TestChunkDecoder(t *testing.T) {
	for _, s := range chunkSeeds {
		checkChunk(t, []byte(s))
	}
	var d chunkDecoder
	for _, s := range chunkSeeds[:5] {
		d.c = streamChunk{}
		if !d.fast([]byte(s)) {
			t.Errorf("%s: took the slow path, want the fast one", s)
		}
	}
	c, err := d.decode([]byte(chunkSeeds[0]))
	if err != nil || len(c.Choices) != 1 || c.Choices[0].Delta.Content != " word" {
		t.Fatalf("got %+v, %v", c, err)
	}
	word := []byte(chunkSeeds[0])
	if allocs := testing.AllocsPerRun(100, func() { _, _ = d.decode(word) }); allocs > 1 {
		t.Errorf("a text chunk costs %v allocations, want ≤ 1 (its text)", allocs)
	}
}

// FuzzChunkDecoder: whatever the input, the decoder gives what
// json.Unmarshal into streamChunk gives: the same error or none, the same
// fields.
func FuzzChunkDecoder(f *testing.F) {
	for _, s := range chunkSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkChunk(t, data)
	})
}

func checkChunk(t *testing.T, data []byte) {
	t.Helper()
	var want streamChunk
	wantErr := json.Unmarshal(data, &want)
	var d chunkDecoder
	// A decoder that already decoded something must not leak it.
	_, _ = d.decode([]byte(`{"choices":[{"index":3,"delta":{"content":"stale","role":"r"},"finish_reason":"x"},{"index":0}]}`))
	got, err := d.decode(data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, encoding/json says %v", data, err, wantErr)
	}
	if err != nil {
		return
	}
	if len(got.Choices) == 0 && len(want.Choices) == 0 {
		got.Choices, want.Choices = nil, nil // nil or empty: the same to Stream
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", data, *got, want)
	}
}

func TestEvents(t *testing.T) {
	errBody := `{"error":{"message":"The server had an error","type":"server_error","param":null,"code":"overloaded"}}`
	tests := []struct {
		name     string
		body     string
		want     []string // payloads before the end
		wantErr  error    // nil: io.EOF
		wantCode string   // an *apiError with this code
	}{
		{name: "events and done", body: "data: {\"a\":1}\n\ndata:{\"b\":2}\r\n\r\n: keep-alive\n\ndata: [DONE]\n\ndata: {\"late\":1}\n\n", want: []string{`{"a":1}`, `{"b":2}`}},
		{name: "no done", body: "data: {\"a\":1}\n\n", want: []string{`{"a":1}`}},
		{name: "last line without newline is no event", body: "data: {\"a\":1}\n\ndata: {\"b\":2}", want: []string{`{"a":1}`}},
		{name: "event and id fields skipped", body: "event: message\nid: 7\ndata: {\"a\":1}\n\n", want: []string{`{"a":1}`}},
		{name: "long line", body: "data: {\"a\":\"" + strings.Repeat("x", 3*eventsBuffer) + "\"}\n\n", want: []string{`{"a":"` + strings.Repeat("x", 3*eventsBuffer) + `"}`}},
		{name: "error event mid-stream", body: "data: {\"a\":1}\n\ndata: " + errBody + "\n\n", want: []string{`{"a":1}`}, wantCode: "overloaded"},
		{name: "error event after keep-alives", body: ": ping\n\n: ping\n\ndata: " + errBody + "\n\n", wantCode: "overloaded"},
		{name: "malformed error event", body: "data: {\"error\": nope}\n\n", wantErr: errStreamError},
		{name: "plain JSON error as the body", body: errBody + "\n", wantCode: "overloaded"},
		{name: "noise that is no error", body: "hello\nworld\n", wantErr: io.EOF},
		{name: "too many empty lines", body: strings.Repeat("\n", emptyMessagesLimit+1) + "data: {}\n", wantErr: errTooManyEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, oneByte := range []bool{false, true} {
				var r io.Reader = strings.NewReader(tt.body)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				e := newEvents(r)
				var got []string
				var err error
				for {
					var p []byte
					if p, err = e.next(); err != nil {
						break
					}
					got = append(got, string(p))
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("oneByte=%v payloads: got %q, want %q", oneByte, got, tt.want)
				}
				var apiErr *apiError
				switch {
				case tt.wantCode != "":
					if !errors.As(err, &apiErr) || apiErr.Code != tt.wantCode {
						t.Errorf("oneByte=%v err: got %v, want an APIError with code %q", oneByte, err, tt.wantCode)
					}
				case tt.wantErr != nil:
					if !errors.Is(err, tt.wantErr) {
						t.Errorf("oneByte=%v err: got %v, want %v", oneByte, err, tt.wantErr)
					}
				default:
					if err != io.EOF {
						t.Errorf("oneByte=%v err: got %v, want io.EOF", oneByte, err)
					}
				}
				if _, again := e.next(); err == io.EOF && again != io.EOF {
					t.Errorf("oneByte=%v: after the end, next gave %v", oneByte, again)
				}
			}
		})
	}
}

// An error event in the middle of a stream ends the answer as an upstream
// failure with the upstream's code and message, the text so far shown.
func TestStreamErrorEvent(t *testing.T) {
	body := "data: " + chunkSeeds[0] + "\n\n" +
		`data: {"error":{"message":"The server had an error","type":"server_error","param":null,"code":"overloaded"}}` + "\n\n"
	o := fastOptions(t)
	o.Transport = cannedTransport(body)
	c := newTestClient(t, o)
	s := settingsFor(t, "http://127.0.0.1:1/v1", testKey)
	res, err := c.Stream(t.Context(), s, BuildMessages(s, nil, userMsgs("hi")), nil)
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Code != "overloaded" || !strings.Contains(ue.Message, "The server had an error") || !errors.Is(err, ErrIncomplete) {
		t.Fatalf("got %v, want an incomplete upstream error with code overloaded", err)
	}
	if res.Text != " word" || res.Attempts != 1 {
		t.Errorf("got %q after %d attempts, want \" word\" after 1", res.Text, res.Attempts)
	}
}
