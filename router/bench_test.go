package router

import (
	"bytes"
	"compress/gzip"
	"testing"
)

// Benchmarks for docs/intents.md:
//
//	go test -run '^$' -bench . -benchmem ./router

func BenchmarkClassifyCLINC150(b *testing.B) {
	d := loadCLINC(b)
	m, err := Fit(clincIntents(d.Train, 0), Options{})
	if err != nil {
		b.Fatalf("Fit: %v", err)
	}
	for i := 0; b.Loop(); i++ {
		m.Classify(d.Val[i%len(d.Val)][0])
	}
	reportSize(b, m) // after the loop: the timer reset would drop it
}

func BenchmarkClassifyShop(b *testing.B) {
	m := loadShop(b)
	texts := []string{"where is my order", "运费多少", "how do i retrun this", "tell me a joke"}
	for i := 0; b.Loop(); i++ {
		m.Classify(texts[i%len(texts)])
	}
	reportSize(b, m)
}

func BenchmarkFitCLINC150(b *testing.B) {
	d := loadCLINC(b)
	intents := clincIntents(d.Train, 0)
	for b.Loop() {
		if _, err := Fit(intents, Options{}); err != nil {
			b.Fatalf("Fit: %v", err)
		}
	}
}

func BenchmarkFitCLINC150TenShot(b *testing.B) {
	d := loadCLINC(b)
	intents := clincIntents(d.Train, 10)
	for b.Loop() {
		if _, err := Fit(intents, Options{}); err != nil {
			b.Fatalf("Fit: %v", err)
		}
	}
}

func BenchmarkLoadCLINC150(b *testing.B) {
	d := loadCLINC(b)
	m, err := Fit(clincIntents(d.Train, 0), Options{})
	if err != nil {
		b.Fatalf("Fit: %v", err)
	}
	raw, _ := m.MarshalBinary()
	for b.Loop() {
		if _, err := Load(raw); err != nil {
			b.Fatalf("Load: %v", err)
		}
	}
}

// reportSize adds the model's raw and gzip sizes to the benchmark output.
func reportSize(b *testing.B, m *Model) {
	b.Helper()
	raw, _ := m.MarshalBinary()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(raw)
	zw.Close()
	b.ReportMetric(float64(len(raw)), "model-bytes")
	b.ReportMetric(float64(buf.Len()), "model-gzip-bytes")
}
