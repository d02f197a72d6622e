package hub

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/kefuhq/kefu/relay/protocol"
)

// FuzzDeltaFrame: a delta frame's bytes are exactly json.Marshal's.
func FuzzDeltaFrame(f *testing.F) {
	for _, s := range []string{"", " word", "<b>&amp;</b>", "line\nbreak\t\"q\" \\ \b\f\r\x00\x1f\x7f", "\u2028\u2029 é 😀", "bad \xff\xfe utf8 \xe2\x82", "日本語"} {
		f.Add(s, 3, false)
		f.Add(s, -1, true)
	}
	f.Fuzz(func(t *testing.T, text string, index int, done bool) {
		d := protocol.Delta{Type: protocol.TypeDelta, ConversationID: "c<1>" + text, StreamID: "s&", Index: index, Text: text, Done: done}
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := DeltaFrame(d).Data; !bytes.Equal(got, want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}

func TestDeltaFrameAllocations(t *testing.T) {
	d := protocol.Delta{Type: protocol.TypeDelta, ConversationID: "cid", StreamID: "sid", Index: 7, Text: " word"}
	if n := testing.AllocsPerRun(100, func() { _ = DeltaFrame(d) }); n > 2 {
		t.Errorf("DeltaFrame: %v allocations, want ≤ 2 (the bytes and the delta)", n)
	}
}
