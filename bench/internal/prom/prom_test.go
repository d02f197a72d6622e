package prom

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	text := `# HELP kefu_messages_total Messages durably stored.
# TYPE kefu_messages_total counter
kefu_messages_total{from="system"} 3
kefu_messages_total{from="visitor"} 1200
kefu_store_commit_seconds_count 40
kefu_store_commit_batch_size_sum 1203
go_goroutines 57
process_resident_memory_bytes 3.1457e+07
`
	s, err := Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"labelled series", s.Get(`kefu_messages_total{from="visitor"}`), 1200},
		{"sum over labels", s.Sum("kefu_messages_total"), 1203},
		{"histogram count", s.Get("kefu_store_commit_seconds_count"), 40},
		{"exponent", s.Get("process_resident_memory_bytes"), 31457000},
		{"absent", s.Get("nope"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}
