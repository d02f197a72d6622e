package hist

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestIndexBounds(t *testing.T) {
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 1<<40 + 12345, 1<<63 + 5} {
		i := index(v)
		if lo, hi := lower(i), upper(i); v < lo || v > hi {
			t.Errorf("value %d: bucket %d holds [%d, %d]", v, i, lo, hi)
		}
	}
	// Buckets tile the line: each starts right after the previous one ends.
	for i := 1; i < 2000; i++ {
		if got, want := lower(i), upper(i-1)+1; got != want {
			t.Fatalf("bucket %d starts at %d, want %d", i, got, want)
		}
	}
}

func TestQuantileAccuracy(t *testing.T) {
	var h H
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]time.Duration, 100000)
	for i := range vals {
		vals[i] = time.Duration(r.ExpFloat64() * float64(2*time.Millisecond))
		h.Record(vals[i])
	}
	slices.Sort(vals)
	tests := []struct {
		name string
		q    float64
	}{{"p50", 0.5}, {"p99", 0.99}, {"p99.9", 0.999}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := vals[int(tt.q*float64(len(vals)))-1]
			got := h.Quantile(tt.q)
			if d := float64(got-want) / float64(want); d > 0.02 || d < -0.02 {
				t.Errorf("got %v, want %v ± 2 %%", got, want)
			}
		})
	}
	if got, want := h.Max(), vals[len(vals)-1]; got != want {
		t.Errorf("max: got %v, want %v", got, want)
	}
}

func TestMergeEqualsRecordingTogether(t *testing.T) {
	var a, b, all H
	for i := 1; i <= 5000; i++ {
		d := time.Duration(i) * time.Microsecond
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
		all.Record(d)
	}
	var m H
	m.Merge(&a)
	m.Merge(&b)
	if got, want := m.Count(), all.Count(); got != want {
		t.Fatalf("count: got %d, want %d", got, want)
	}
	for _, q := range []float64{0.1, 0.5, 0.99, 0.999} {
		if got, want := m.Quantile(q), all.Quantile(q); got != want {
			t.Errorf("q%.3f: got %v, want %v", q, got, want)
		}
	}
	if got, want := m.Max(), all.Max(); got != want {
		t.Errorf("max: got %v, want %v", got, want)
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	var h H
	for _, d := range []time.Duration{0, 5, 700 * time.Microsecond, 3 * time.Millisecond, 2 * time.Second} {
		h.Record(d)
	}
	b, err := json.Marshal(h.Export())
	if err != nil {
		t.Fatal(err)
	}
	var s Sparse
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	g := Import(s)
	if got, want := g.Summarize(), h.Summarize(); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestEmptyAndNegative(t *testing.T) {
	var h H
	if got := h.Quantile(0.99); got != 0 {
		t.Errorf("empty p99: got %v, want 0", got)
	}
	h.Record(-time.Second)
	if got := h.Max(); got != 0 {
		t.Errorf("negative recorded as %v, want 0", got)
	}
}
