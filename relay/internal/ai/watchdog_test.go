package ai

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestWatchdogChunkGap drives the phase timer's end by hand on a fake
// clock: a chunk within the gap keeps the answer alive however long it
// runs, and the gap since the last chunk, not since the timer was armed,
// is what ends it.
func TestWatchdogChunkGap(t *testing.T) {
	const gap = 10 * time.Second
	tests := []struct {
		name    string
		chunks  []time.Duration // chunk times (content), since the start
		fire    time.Duration   // when the phase timer's end is run
		wantErr string          // the timeout's phase; "" for none
	}{
		{name: "no content yet", fire: 5 * time.Second, wantErr: "first token"},
		{name: "chunk just before", chunks: []time.Duration{time.Second, 9 * time.Second, 18 * time.Second}, fire: 20 * time.Second},
		{name: "last chunk a gap ago", chunks: []time.Duration{time.Second, 9 * time.Second}, fire: 19 * time.Second, wantErr: "chunk gap"},
		{name: "steady, long answer", chunks: []time.Duration{time.Second, 6 * time.Second, 12 * time.Second, 18 * time.Second, 24 * time.Second, 30 * time.Second}, fire: 31 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cause error
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			w := newWatchdog(Timeouts{Answer: time.Hour, FirstToken: time.Hour, ChunkGap: gap}, func(err error) { cause = err; cancel(err) })
			defer w.stop()
			var now time.Duration
			w.since = func() time.Duration { return now }
			for _, c := range tt.chunks {
				now = c
				w.chunk(true)
			}
			now = tt.fire
			w.phaseOver()
			var te *TimeoutError
			switch {
			case tt.wantErr == "" && cause != nil:
				t.Fatalf("got %v, want no timeout", cause)
			case tt.wantErr != "" && (!errors.As(cause, &te) || te.Phase != tt.wantErr):
				t.Fatalf("got %v, want a %s timeout", cause, tt.wantErr)
			}
			if tt.wantErr == "" && ctx.Err() != nil {
				t.Fatalf("context ended: %v", context.Cause(ctx))
			}
		})
	}
}

// TestWatchdogEmptyChunksBeforeContent: chunks without text before the
// first content do not start the chunk-gap phase.
func TestWatchdogEmptyChunksBeforeContent(t *testing.T) {
	var cause error
	w := newWatchdog(Timeouts{Answer: time.Hour, FirstToken: time.Hour, ChunkGap: time.Second}, func(err error) { cause = err })
	defer w.stop()
	var now time.Duration
	w.since = func() time.Duration { return now }
	now = 100 * time.Millisecond
	w.chunk(false)
	now = 5 * time.Second
	w.phaseOver()
	var te *TimeoutError
	if !errors.As(cause, &te) || te.Phase != "first token" {
		t.Fatalf("got %v, want a first token timeout", cause)
	}
}
