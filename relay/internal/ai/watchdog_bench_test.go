package ai

import (
	"context"
	"testing"
	"time"
)

// BenchmarkWatchdogChunk is a chunk's watchdog work with a thousand
// answers' watchdogs live, as at 1 000 streams: ns per chunk.
func BenchmarkWatchdogChunk(b *testing.B) {
	const answers = 1000
	ws := make([]*watchdog, answers)
	for i := range ws {
		_, cancel := context.WithCancelCause(context.Background())
		ws[i] = newWatchdog(Timeouts{Answer: time.Hour, FirstToken: time.Hour, ChunkGap: 30 * time.Second}, cancel)
		defer ws[i].stop()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ws[i%answers].chunk(true)
		i++
	}
}
