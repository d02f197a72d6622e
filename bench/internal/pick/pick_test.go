package pick

import (
	"slices"
	"testing"
)

func TestFields(t *testing.T) {
	msg := []byte(`{"type":"message","conversation_id":"c1","seq":15,"id":"b1.2.3","from":"visitor","text":"say \"id\":\"x\" [t=5]","ts":17,"incomplete":true}`)
	tests := []struct {
		name, key, want string
	}{
		{"type", "type", "message"},
		{"id is not conversation_id", "id", "b1.2.3"},
		{"conversation", "conversation_id", "c1"},
		{"escaped quotes stay inside the value", "text", `say \"id\":\"x\" [t=5]`},
		{"missing", "author", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Str(msg, tt.key)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if n, ok := Uint(msg, "seq"); !ok || n != 15 {
		t.Errorf("seq: got %d %v, want 15", n, ok)
	}
	if !Bool(msg, "incomplete") || Bool(msg, "duplicate") {
		t.Error("bools wrong")
	}
}

func TestStamps(t *testing.T) {
	var got []int64
	Stamps([]byte(`{"text":"ab[t=123]cd[t=45]e[t=9x][t="}`), func(ns int64) { got = append(got, ns) })
	if want := []int64{123, 45}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
