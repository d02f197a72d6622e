package ai

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
)

const testKey = "sk-test-Zq8vN3kW7pL2xR5mT9bY4cH6"

// TestStreamScenarios runs Stream against every scenario of the fake.
func TestStreamScenarios(t *testing.T) {
	text := "The quick brown fox jumps over the lazy dog."
	tests := []struct {
		name         string
		fake         openaitest.Options
		queue        []openaitest.Scenario
		tune         func(*Options)
		wantErr      []error // each must match; nil slice: success
		wantComplete bool
		wantText     string // exact, if set
		wantPrefix   string // Result.Text must start with it, if set
		wantAttempts int
		wantFinish   string
		check        func(t *testing.T, res Result, err error, fake *openaitest.Server)
	}{
		{
			name: "normal", fake: openaitest.Options{Text: text, ChunkRunes: 3},
			wantComplete: true, wantText: text, wantAttempts: 1, wantFinish: "stop",
			check: func(t *testing.T, res Result, _ error, fake *openaitest.Server) {
				if res.Usage.Estimated || res.Usage.Total() == 0 {
					t.Errorf("usage: got %+v, want the upstream's", res.Usage)
				}
				req := fake.Requests()[0]
				if got, want := req.Header.Get("Authorization"), "Bearer "+testKey; got != want {
					t.Errorf("auth header: got %q, want %q", got, want)
				}
				if !req.IncludeUsage || !req.Stream || req.MaxTokens != DefaultMaxAnswerTokens {
					t.Errorf("request: got stream=%v include_usage=%v max_tokens=%d", req.Stream, req.IncludeUsage, req.MaxTokens)
				}
			},
		},
		{
			name: "401 echoing the key", fake: openaitest.Options{Scenario: openaitest.Unauthorized},
			wantErr: []error{ErrUpstream}, wantAttempts: 1,
			check: func(t *testing.T, _ Result, err error, _ *openaitest.Server) {
				var ue *UpstreamError
				if !errors.As(err, &ue) || ue.Status != 401 || ue.Code != "invalid_api_key" {
					t.Errorf("got %#v, want a 401 UpstreamError", err)
				}
				assertNoKey(t, err.Error(), testKey)
			},
		},
		{
			name: "429 until attempts run out", fake: openaitest.Options{Scenario: openaitest.RateLimited, RetryAfter: 20 * time.Millisecond},
			wantErr: []error{ErrUpstream}, wantAttempts: 3,
		},
		{
			name: "429 with a Retry-After past the first-token budget: no retry", fake: openaitest.Options{Scenario: openaitest.RateLimitedLong},
			wantErr: []error{ErrUpstream}, wantAttempts: 1,
			check: func(t *testing.T, _ Result, err error, _ *openaitest.Server) {
				var ue *UpstreamError
				if !errors.As(err, &ue) || !ue.GaveUp || ue.RetryAfter != time.Minute {
					t.Errorf("got %#v, want a 429 given up on with its 60s Retry-After", err)
				}
			},
		},
		{
			name: "429 once then success", queue: []openaitest.Scenario{openaitest.RateLimited},
			fake:         openaitest.Options{Text: text, RetryAfter: 30 * time.Millisecond},
			wantComplete: true, wantText: text, wantAttempts: 2,
		},
		{
			name: "500 retried", fake: openaitest.Options{Scenario: openaitest.ServerError},
			wantErr: []error{ErrUpstream}, wantAttempts: 3,
		},
		{
			name: "500 twice then success", queue: []openaitest.Scenario{openaitest.ServerError, openaitest.ServerError},
			fake: openaitest.Options{Text: text}, wantComplete: true, wantText: text, wantAttempts: 3,
		},
		{
			name: "html error page", fake: openaitest.Options{Scenario: openaitest.HTMLError},
			wantErr: []error{ErrUpstream}, wantAttempts: 3,
			check: func(t *testing.T, _ Result, err error, _ *openaitest.Server) {
				var ue *UpstreamError
				if !errors.As(err, &ue) || ue.Status != 502 {
					t.Errorf("got %v, want HTTP 502", err)
				}
				if strings.Contains(err.Error(), "<") {
					t.Errorf("error carries the HTML page: %v", err)
				}
			},
		},
		{
			name: "stall after two chunks", fake: openaitest.Options{Scenario: openaitest.Stall, Text: text, ChunkRunes: 4},
			wantErr: []error{ErrTimeout, ErrIncomplete}, wantText: text[:8], wantAttempts: 1,
			check: func(t *testing.T, _ Result, err error, _ *openaitest.Server) {
				var te *TimeoutError
				if !errors.As(err, &te) || te.Phase != "chunk gap" {
					t.Errorf("got %v, want a chunk gap timeout", err)
				}
			},
		},
		{
			name: "cut mid-way ends with EOF", fake: openaitest.Options{Scenario: openaitest.Cut, Text: text, ChunkRunes: 4},
			wantErr: []error{ErrUpstream, ErrIncomplete}, wantText: text[:8], wantAttempts: 1,
		},
		{
			name: "connection dropped mid-chunk", fake: openaitest.Options{Scenario: openaitest.Drop, Text: text, ChunkRunes: 4},
			wantErr: []error{ErrUpstream, ErrIncomplete}, wantText: text[:8], wantAttempts: 1,
		},
		{
			name: "DONE without finish reason", fake: openaitest.Options{Scenario: openaitest.NoFinish, Text: text},
			wantErr: []error{ErrUpstream, ErrIncomplete}, wantText: text, wantAttempts: 1,
		},
		{
			name: "finish reason but no DONE", fake: openaitest.Options{Scenario: openaitest.NoDone, Text: text},
			wantErr: []error{ErrUpstream, ErrIncomplete}, wantText: text, wantAttempts: 1,
		},
		{
			name: "keep-alive comments only", fake: openaitest.Options{Scenario: openaitest.KeepAlive, KeepAliveEvery: 5 * time.Millisecond},
			tune:    func(o *Options) { o.Timeouts.FirstToken = 300 * time.Millisecond },
			wantErr: []error{ErrTimeout}, wantText: "", wantAttempts: 1,
			check: func(t *testing.T, _ Result, err error, _ *openaitest.Server) {
				if errors.Is(err, ErrIncomplete) {
					t.Errorf("nothing was shown, yet the error says incomplete: %v", err)
				}
			},
		},
		{
			name: "10 MB line", fake: openaitest.Options{Scenario: openaitest.HugeLine},
			wantErr: []error{ErrUpstream}, wantAttempts: 1,
			check: func(t *testing.T, res Result, err error, _ *openaitest.Server) {
				if !strings.Contains(err.Error(), "line too long") || len(res.Text) > 0 {
					t.Errorf("got %v with %d bytes, want line too long and no text", err, len(res.Text))
				}
			},
		},
		{
			name: "invalid UTF-8 in a delta", fake: openaitest.Options{Scenario: openaitest.BadUTF8},
			wantComplete: true, wantAttempts: 1, wantPrefix: "Hello ",
			check: func(t *testing.T, res Result, _ error, _ *openaitest.Server) {
				if !utf8.ValidString(res.Text) || !strings.Contains(res.Text, "\uFFFD") {
					t.Errorf("text %q: want valid UTF-8 with replacement characters", res.Text)
				}
			},
		},
		{
			name: "slow first token within the limit", fake: openaitest.Options{Scenario: openaitest.SlowFirst, FirstDelay: 50 * time.Millisecond, Text: text},
			wantComplete: true, wantText: text, wantAttempts: 1,
			check: func(t *testing.T, res Result, _ error, _ *openaitest.Server) {
				if res.FirstToken < 50*time.Millisecond {
					t.Errorf("first token after %v, want ≥ 50ms", res.FirstToken)
				}
			},
		},
		{
			name: "slow first token past the limit", fake: openaitest.Options{Scenario: openaitest.SlowFirst, FirstDelay: 5 * time.Second},
			tune:    func(o *Options) { o.Timeouts.FirstToken = 200 * time.Millisecond },
			wantErr: []error{ErrTimeout}, wantText: "", wantAttempts: 1,
			check: func(t *testing.T, _ Result, err error, _ *openaitest.Server) {
				var te *TimeoutError
				if !errors.As(err, &te) || te.Phase != "first token" {
					t.Errorf("got %v, want a first token timeout", err)
				}
			},
		},
		{
			name: "whole answer too long", fake: openaitest.Options{Text: strings.Repeat("word ", 100), ChunkRunes: 5, Delay: 20 * time.Millisecond},
			tune:    func(o *Options) { o.Timeouts.Answer = 300 * time.Millisecond },
			wantErr: []error{ErrTimeout, ErrIncomplete}, wantPrefix: "word word", wantAttempts: 1,
			check: func(t *testing.T, _ Result, err error, _ *openaitest.Server) {
				var te *TimeoutError
				if !errors.As(err, &te) || te.Phase != "answer" {
					t.Errorf("got %v, want an answer timeout", err)
				}
			},
		},
		{
			name:         "secrets and images filtered across chunks",
			fake:         openaitest.Options{Text: "Use " + testOpenAIKey + " and ![x](http://evil/p.png) now.", ChunkRunes: 3},
			wantComplete: true, wantText: "Use sk-[redacted] and ! now.", wantAttempts: 1,
			check: func(t *testing.T, res Result, _ error, _ *openaitest.Server) {
				if res.Redactions != 1 {
					t.Errorf("redactions: got %d, want 1", res.Redactions)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := fakeServer(t, tt.fake)
			fake.Enqueue(tt.queue...)
			o := fastOptions(t)
			var logs strings.Builder // written by Stream's goroutine only
			o.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(tWriter{t}, &logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
			if tt.tune != nil {
				tt.tune(&o)
			}
			c := newTestClient(t, o)
			var col collector
			start := time.Now()
			res, err := c.Stream(t.Context(), settingsFor(t, fake.BaseURL, testKey),
				BuildMessages(DefaultSettings(), nil, userMsgs("hello")), col.onDelta)
			t.Logf("took %v, err %v", time.Since(start), err)

			if tt.wantErr == nil && err != nil {
				t.Fatalf("err: got %v, want nil", err)
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("err: got %v, want it to match %v", err, want)
				}
			}
			if res.Complete != tt.wantComplete {
				t.Errorf("complete: got %v, want %v", res.Complete, tt.wantComplete)
			}
			if got := col.text(); got != res.Text {
				t.Errorf("deltas %q differ from Result.Text %q", got, res.Text)
			}
			if tt.wantText != "" || (tt.wantPrefix == "" && tt.wantErr != nil) {
				if res.Text != tt.wantText {
					t.Errorf("text: got %q, want %q", res.Text, tt.wantText)
				}
			}
			if !strings.HasPrefix(res.Text, tt.wantPrefix) {
				t.Errorf("text: got %q, want prefix %q", res.Text, tt.wantPrefix)
			}
			if res.Attempts != tt.wantAttempts {
				t.Errorf("attempts: got %d, want %d", res.Attempts, tt.wantAttempts)
			}
			if got := fake.Count(); got != tt.wantAttempts {
				t.Errorf("upstream requests: got %d, want %d", got, tt.wantAttempts)
			}
			if tt.wantFinish != "" && res.FinishReason != tt.wantFinish {
				t.Errorf("finish: got %q, want %q", res.FinishReason, tt.wantFinish)
			}
			if err != nil {
				assertNoKey(t, err.Error(), testKey)
			}
			assertNoKey(t, logs.String(), testKey)
			if tt.check != nil {
				tt.check(t, res, err, fake)
			}
			// Whatever happened, the upstream stream must be closed.
			eventually(t, 2*time.Second, "the fake to see the stream closed", func() bool { return fake.Active() == 0 })
		})
	}
}

// assertNoKey fails if s holds the key or any 8-byte piece of it.
func assertNoKey(t *testing.T, s, key string) {
	t.Helper()
	for i := 0; i+8 <= len(key); i++ {
		if strings.Contains(s, key[i:i+8]) {
			t.Fatalf("%q holds part of the key (%q)", s, key[i:i+8])
		}
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter time.Duration
		maxRA      time.Duration
		wantMin    time.Duration
		wantMax    time.Duration
	}{
		// Two retries, each waiting the upstream's 100ms.
		{name: "honoured", retryAfter: 100 * time.Millisecond, maxRA: time.Second, wantMin: 200 * time.Millisecond, wantMax: 1500 * time.Millisecond},
		// Longer than the cap: no retry, hand off at once.
		{name: "over the cap", retryAfter: 10 * time.Second, maxRA: 30 * time.Millisecond, wantMin: 0, wantMax: 500 * time.Millisecond},
		// No cap: longer than the first-token budget (2s): hand off at once.
		{name: "past the first-token budget", retryAfter: 30 * time.Second, wantMin: 0, wantMax: 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := fakeServer(t, openaitest.Options{Scenario: openaitest.RateLimited, RetryAfter: tt.retryAfter})
			o := fastOptions(t)
			o.Retry.MaxRetryAfter = tt.maxRA
			c := newTestClient(t, o)
			start := time.Now()
			_, err := c.Stream(t.Context(), settingsFor(t, fake.BaseURL, testKey), BuildMessages(DefaultSettings(), nil, userMsgs("hi")), nil)
			took := time.Since(start)
			if !errors.Is(err, ErrUpstream) {
				t.Fatalf("err: got %v, want ErrUpstream", err)
			}
			if took < tt.wantMin || took > tt.wantMax {
				t.Errorf("took %v, want between %v and %v", took, tt.wantMin, tt.wantMax)
			}
		})
	}
}

func TestNoRetryPastFirstTokenDeadline(t *testing.T) {
	// Retry-After (capped at 1s) is longer than the 300ms first-token
	// timeout: one attempt, then hand over at once.
	fake := fakeServer(t, openaitest.Options{Scenario: openaitest.RateLimited, RetryAfter: time.Second})
	o := fastOptions(t)
	o.Timeouts.FirstToken = 300 * time.Millisecond
	o.Retry.MaxRetryAfter = time.Second
	c := newTestClient(t, o)
	start := time.Now()
	res, err := c.Stream(t.Context(), settingsFor(t, fake.BaseURL, testKey), BuildMessages(DefaultSettings(), nil, userMsgs("hi")), nil)
	if !errors.Is(err, ErrUpstream) || res.Attempts != 1 {
		t.Fatalf("got %v after %d attempts, want ErrUpstream after 1", err, res.Attempts)
	}
	if took := time.Since(start); took > 250*time.Millisecond {
		t.Errorf("took %v: it waited although no retry could make the deadline", took)
	}
}

func TestTwoStreamsNeverMix(t *testing.T) {
	fake := fakeServer(t, openaitest.Options{Scenario: openaitest.Echo, ChunkRunes: 2, Delay: time.Millisecond})
	c := newTestClient(t, fastOptions(t))
	s := settingsFor(t, fake.BaseURL, testKey)
	const n = 20
	type out struct {
		want, got, deltas string
		err               error
	}
	results := make(chan out, n)
	for i := range n {
		go func() {
			msg := strings.Repeat(string(rune('a'+i)), 10+i) + " visitor " + string(rune('A'+i))
			var col collector
			res, err := c.Stream(context.Background(), s, BuildMessages(s, nil, userMsgs(msg)), col.onDelta)
			results <- out{want: msg, got: res.Text, deltas: col.text(), err: err}
		}()
	}
	for range n {
		r := <-results
		if r.err != nil || r.got != r.want || r.deltas != r.want {
			t.Errorf("stream for %q: got text %q deltas %q err %v", r.want, r.got, r.deltas, r.err)
		}
	}
	// Each upstream request carried one visitor's text only.
	for _, req := range fake.Requests() {
		var users []string
		for _, m := range req.Messages {
			if m.Role == "user" {
				users = append(users, m.Content)
			}
		}
		if len(users) != 1 || strings.Count(users[0], "visitor") != 1 {
			t.Errorf("request mixed visitors: %q", users)
		}
	}
}

func TestCallerCancelClosesUpstream(t *testing.T) {
	fake := fakeServer(t, openaitest.Options{Scenario: openaitest.Stall})
	c := newTestClient(t, fastOptions(t))
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan error, 1)
	go func() {
		_, err := c.Stream(ctx, settingsFor(t, fake.BaseURL, testKey), BuildMessages(DefaultSettings(), nil, userMsgs("hi")),
			func(string) error { cancel(); return nil })
		got <- err
	}()
	err := <-got
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Errorf("err: got %v, want context.Canceled", err)
	}
	eventually(t, 2*time.Second, "the upstream stream to close", func() bool { return fake.Active() == 0 })
}

func TestDeltaCallbackErrorStops(t *testing.T) {
	fake := fakeServer(t, openaitest.Options{Text: "one two three four", ChunkRunes: 4})
	c := newTestClient(t, fastOptions(t))
	stop := errors.New("socket gone")
	calls := 0
	res, err := c.Stream(t.Context(), settingsFor(t, fake.BaseURL, testKey), BuildMessages(DefaultSettings(), nil, userMsgs("hi")),
		func(string) error { calls++; return stop })
	if !errors.Is(err, stop) || errors.Is(err, ErrUpstream) {
		t.Errorf("err: got %v, want the callback's error only", err)
	}
	if calls != 1 || res.Complete {
		t.Errorf("calls %d complete %v: want 1 call and an incomplete result", calls, res.Complete)
	}
}

func TestStreamRefusesBadSettings(t *testing.T) {
	fake := fakeServer(t, openaitest.Options{})
	c := newTestClient(t, fastOptions(t))
	good := settingsFor(t, fake.BaseURL, testKey)
	off := good
	off.Enabled = false
	metadata := good
	metadata.BaseURL = "http://169.254.169.254/latest"
	tests := []struct {
		name string
		s    Settings
		want error
	}{
		{name: "disabled", s: off, want: ErrDisabled},
		{name: "metadata address", s: metadata, want: ErrDisabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Stream(t.Context(), tt.s, BuildMessages(tt.s, nil, userMsgs("hi")), nil)
			if !errors.Is(err, tt.want) {
				t.Errorf("err: got %v, want %v", err, tt.want)
			}
		})
	}
	if got := fake.Count(); got != 0 {
		t.Errorf("upstream requests: got %d, want 0", got)
	}
}
