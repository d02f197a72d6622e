package main

import "testing"

func TestProcs(t *testing.T) {
	tests := []struct {
		current int
		env     string
		want    int
	}{
		{1, "", oneCPUProcs}, // one CPU: spare Ps
		{2, "", 2},           // Go's default stands
		{8, "", 8},
		{1, "1", 1}, // the operator's choice stands
		{2, "4", 2},
	}
	for _, tt := range tests {
		if got := procs(tt.current, tt.env); got != tt.want {
			t.Errorf("procs(%d, %q) = %d, want %d", tt.current, tt.env, got, tt.want)
		}
	}
}
