package main

import (
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/kefuhq/kefu/bench/internal/pick"
)

func TestFrameIDRoundTrip(t *testing.T) {
	m := newChat(Job{Proc: 3, TextBytes: 200}, slog.New(slog.DiscardHandler))
	b := m.appendFrame(nil, 7, 1795500000123456789, 42)
	var f struct{ Type, ID, Text string }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("frame is not JSON: %v: %s", err, b)
	}
	if f.Type != "message" || len(f.Text) != 200 || len(f.ID) > 64 {
		t.Errorf("got type %q, text %d bytes, id %d bytes; want message, 200, ≤ 64", f.Type, len(f.Text), len(f.ID))
	}
	step, due, ok := parseID(pick.Str(b, "id"))
	if !ok || step != 7 || due != 1795500000123456789 {
		t.Errorf("parseID: got (%d, %d, %v), want (7, 1795500000123456789, true)", step, due, ok)
	}
}

func TestParseIDRejectsOthers(t *testing.T) {
	for _, id := range []string{"", "w.0.1", "p.0.1.2", "b.", "b.x.1.0.0", "b.99.1.0.0", "b.1"} {
		if _, _, ok := parseID([]byte(id)); ok {
			t.Errorf("parseID(%q) accepted", id)
		}
	}
}
