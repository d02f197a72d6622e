package ai

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
)

func TestKeyNotSentToAnotherHost(t *testing.T) {
	fake := fakeServer(t, openaitest.Options{RequireKey: testKey})
	c := newTestClient(t, fastOptions(t))
	// The key was entered for api.example.com; the base URL then moved.
	s := settingsFor(t, "https://api.example.com/v1", testKey)
	s, err := s.Apply(SettingsPatch{BaseURL: &fake.BaseURL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Stream(t.Context(), s, BuildMessages(s, nil, userMsgs("hi")), nil)
	if !errors.Is(err, ErrUpstream) || !strings.Contains(err.Error(), "re-enter") {
		t.Errorf("err: got %v, want a 401 that says to re-enter the key", err)
	}
	for _, r := range fake.Requests() {
		if got := r.Header.Get("Authorization"); got != "" {
			t.Errorf("Authorization sent to a host the key was not entered for: %q", got)
		}
	}
}

func TestRedirects(t *testing.T) {
	fake := fakeServer(t, openaitest.Options{Text: "redirected ok"})
	var sameHostHits atomic.Int32
	h := openaitest.NewHandler(openaitest.Options{Text: "same host ok"})
	t.Cleanup(h.Close)
	mux := http.NewServeMux()
	mux.HandleFunc("/old/", func(w http.ResponseWriter, r *http.Request) {
		sameHostHits.Add(1)
		http.Redirect(w, r, "/v1/chat/completions", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/cross/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, fake.BaseURL+"/chat/completions", http.StatusTemporaryRedirect)
	})
	mux.Handle("/v1/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	tests := []struct {
		name     string
		base     string
		wantErr  bool
		wantText string
	}{
		{name: "same host followed", base: srv.URL + "/old", wantText: "same host ok"},
		{name: "cross host refused", base: srv.URL + "/cross", wantErr: true},
	}
	c := newTestClient(t, fastOptions(t))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := settingsFor(t, tt.base, testKey)
			res, err := c.Stream(t.Context(), s, BuildMessages(s, nil, userMsgs("hi")), nil)
			if tt.wantErr {
				if !errors.Is(err, ErrUpstream) || !strings.Contains(err.Error(), "redirect refused") {
					t.Errorf("err: got %v, want a refused redirect", err)
				}
				return
			}
			if err != nil || res.Text != tt.wantText {
				t.Errorf("got %q, %v; want %q", res.Text, err, tt.wantText)
			}
		})
	}
	if got := fake.Count(); got != 0 {
		t.Errorf("the other host got %d requests, want 0", got)
	}
	if sameHostHits.Load() == 0 {
		t.Error("same-host redirect never exercised")
	}
}

func TestUpstreamDialPolicy(t *testing.T) {
	tests := []struct {
		addr    string
		blocked bool
	}{
		{"127.0.0.1:80", false},
		{"[::1]:443", false},
		{"10.0.0.5:8080", false},
		{"192.168.1.2:11434", false},
		{"[fd12::1]:80", false},
		{"169.254.169.254:80", true},
		{"169.254.1.1:80", true},
		{"[fe80::1]:80", true},
		{"[fd00:ec2::254]:80", true},
		{"[::ffff:169.254.169.254]:80", true},
		{"100.100.100.200:80", true},
		{"0.0.0.0:80", true},
		{"224.0.0.1:80", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := upstreamPolicy().Control("tcp", tt.addr, nil)
			if got := err != nil; got != tt.blocked {
				t.Errorf("blocked: got %v (%v), want %v", got, err, tt.blocked)
			}
		})
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		h    http.Header
		want time.Duration
	}{
		{name: "none", h: http.Header{}, want: 0},
		{name: "seconds", h: http.Header{"Retry-After": {"3"}}, want: 3 * time.Second},
		{name: "ms wins", h: http.Header{"Retry-After": {"3"}, "Retry-After-Ms": {"250"}}, want: 250 * time.Millisecond},
		{name: "date", h: http.Header{"Retry-After": {now.Add(7 * time.Second).Format(http.TimeFormat)}}, want: 7 * time.Second},
		{name: "past date", h: http.Header{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, want: 0},
		{name: "garbage", h: http.Header{"Retry-After": {"soon"}}, want: 0},
		{name: "negative", h: http.Header{"Retry-After": {"-5"}}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryAfter(tt.h, now); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSSEBody(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		maxLine  int
		wantDone bool
		wantErr  error
	}{
		{name: "done", body: "data: {}\n\ndata: [DONE]\n\n", maxLine: 100, wantDone: true},
		{name: "done no space", body: "data:[DONE]\n", maxLine: 100, wantDone: true},
		{name: "done crlf", body: "data: [DONE]\r\n\r\n", maxLine: 100, wantDone: true},
		{name: "done at EOF without newline", body: "data: {}\n\ndata: [DONE]", maxLine: 100, wantDone: true},
		{name: "no done", body: "data: {}\n\n", maxLine: 100},
		{name: "done inside content", body: "data: {\"c\":\"data: [DONE]\"}\n\n", maxLine: 100},
		{name: "done padded far", body: "data: [DONE]" + strings.Repeat(" ", 40) + "x\n", maxLine: 100},
		{name: "line too long", body: "data: " + strings.Repeat("a", 200) + "\n", maxLine: 100, wantErr: errLineTooLong},
		{name: "many short lines fine", body: strings.Repeat("data: {}\n\n", 100), maxLine: 20},
		{name: "some keep-alives fine", body: strings.Repeat(": keep-alive\n\n", 100) + "data: [DONE]\n\n", maxLine: 100, wantDone: true},
		{name: "comment flood", body: strings.Repeat(": "+strings.Repeat("x", 90)+"\n", 4000), maxLine: 100, wantErr: errTooMuchNoise},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, oneByte := range []bool{false, true} {
				var done atomic.Bool
				var r io.Reader = strings.NewReader(tt.body)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				b := &sseBody{rc: io.NopCloser(r), maxLine: tt.maxLine, done: &done}
				_, err := io.ReadAll(b)
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("oneByte=%v err: got %v, want %v", oneByte, err, tt.wantErr)
				}
				if done.Load() != tt.wantDone {
					t.Errorf("oneByte=%v done: got %v, want %v", oneByte, done.Load(), tt.wantDone)
				}
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		key  string
	}{
		{name: "whole key", msg: "Incorrect API key provided: " + testKey + ".", key: testKey},
		{name: "prefix echo", msg: "bad key " + testKey[:14] + "****", key: testKey},
		{name: "suffix echo", msg: "key ending " + testKey[len(testKey)-10:], key: testKey},
		{name: "other key-like", msg: "upstream says " + testOpenAIKey, key: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redact(tt.msg, tt.key)
			if tt.key != "" {
				assertNoKey(t, got, tt.key)
			}
			if strings.Contains(got, testOpenAIKey) {
				t.Errorf("got %q, still holds a key", got)
			}
		})
	}
	if got := redact(strings.Repeat("é", 400)+"\x00\n", ""); len(got) > maxErrorMessage+4 || strings.ContainsAny(got, "\x00\n") {
		t.Errorf("long message not shortened and cleaned: %d bytes", len(got))
	}
}

// recordingTransport stands in for the Workers fetch: it sees every
// request the client makes after the client's own wrappers.
type recordingTransport struct {
	base http.RoundTripper
	auth []string // Authorization of each request
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	return r.base.RoundTrip(req)
}

func TestTransportOption(t *testing.T) {
	fake := fakeServer(t, openaitest.Options{Text: "through the given transport"})
	tests := []struct {
		name     string
		keyFor   string // base URL the key was entered for
		wantAuth string
		wantText string
	}{
		{name: "carries the stream", keyFor: fake.BaseURL, wantAuth: "Bearer " + testKey, wantText: "through the given transport"},
		// The key's host binding still applies on top of the transport.
		{name: "key kept from another host", keyFor: "https://api.example.com/v1", wantAuth: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := &recordingTransport{base: &http.Transport{}}
			o := fastOptions(t)
			o.Transport = rt
			c := newTestClient(t, o)
			s := settingsFor(t, tt.keyFor, testKey)
			s, err := s.Apply(SettingsPatch{BaseURL: &fake.BaseURL})
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Stream(t.Context(), s, BuildMessages(s, nil, userMsgs("hi")), nil)
			if len(rt.auth) == 0 {
				t.Fatal("the transport given in Options was not used")
			}
			for _, got := range rt.auth {
				if got != tt.wantAuth {
					t.Errorf("Authorization through the transport: got %q, want %q", got, tt.wantAuth)
				}
			}
			if tt.wantText != "" && (err != nil || res.Text != tt.wantText) {
				t.Errorf("got %q, %v; want %q complete ([DONE] seen through the wrapper)", res.Text, err, tt.wantText)
			}
		})
	}
}

type idleCounter struct {
	http.RoundTripper
	closed int
}

func (c *idleCounter) CloseIdleConnections() { c.closed++ }

// Close reaches the base transport through the wrapper.
func TestCloseClosesIdleConnections(t *testing.T) {
	base := &idleCounter{RoundTripper: http.DefaultTransport}
	c, err := New(Options{Transport: base})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if base.closed != 1 {
		t.Errorf("CloseIdleConnections reached the base %d times, want 1", base.closed)
	}
}

// An answer from an HTTP/1.1 upstream leaves its connection for the next:
// the body's end after [DONE] is read, so net/http keeps the connection
// instead of closing it and dialling again at the next answer's start. The
// upstream here ends each response only after the answer returned, as a
// busy one does a moment after [DONE].
func TestConnectionKeptAfterDone(t *testing.T) {
	release := make(chan struct{}, 3) // never blocks the test if a handler is gone
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		helloThenDone(w)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	c := newTestClient(t, fastOptions(t))
	s := settingsFor(t, srv.URL+"/v1", testKey)
	for i := range 3 {
		idle := make(chan error, 1)
		var reused atomic.Bool
		ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
			GotConn:     func(info httptrace.GotConnInfo) { reused.Store(info.Reused) },
			PutIdleConn: func(err error) { idle <- err },
		})
		res, err := c.Stream(ctx, s, BuildMessages(s, nil, userMsgs("hi")), func(string) error { return nil })
		if err != nil || res.Text != "Hello." {
			t.Fatalf("answer %d: %q, %v", i, res.Text, err)
		}
		if i > 0 && !reused.Load() {
			t.Errorf("answer %d dialled the upstream again", i)
		}
		release <- struct{}{} // the response ends now
		select {
		case err := <-idle:
			if err != nil {
				t.Fatalf("answer %d: the connection was not kept: %v", i, err)
			}
		case <-time.After(drainWait + 5*time.Second):
			t.Fatalf("answer %d: the connection never went back to the pool", i)
		}
	}
}

// helloThenDone streams a one-chunk answer, "Hello.", and [DONE].
func helloThenDone(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprint(w, `data: {"id":"1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hello."},"finish_reason":"stop"}]}`+"\n\n")
	fmt.Fprint(w, "data: [DONE]\n\n")
	w.(http.Flusher).Flush()
}

// An upstream that holds the response open after [DONE] delays neither
// the answer nor anything else; its connection is closed after drainWait.
func TestDoneThenHeldOpen(t *testing.T) {
	closed := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		helloThenDone(w)
		<-r.Context().Done() // the relay closed the connection
		close(closed)
	}))
	t.Cleanup(srv.Close)
	c := newTestClient(t, fastOptions(t))
	s := settingsFor(t, srv.URL+"/v1", testKey)
	res, err := c.Stream(t.Context(), s, BuildMessages(s, nil, userMsgs("hi")), func(string) error { return nil })
	if err != nil || res.Text != "Hello." {
		t.Fatalf("answer: %q, %v", res.Text, err)
	}
	select {
	case <-closed:
		t.Error("the answer returned only once the connection was closed: it waited for the body's end")
	default:
	}
	select {
	case <-closed:
	case <-time.After(drainWait + 5*time.Second):
		t.Fatal("the held-open response was never closed")
	}
}
