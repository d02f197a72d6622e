package pick

import "testing"

func TestChunksCompleteWhenTheirLastByteArrives(t *testing.T) {
	var c Chunks
	var got [][2]int64
	done := func(sent, complete int64) { got = append(got, [2]int64{sent, complete}) }
	// Chunk 1 ("[t=100] Hello") arrives in two pieces: its last word is
	// held back and comes with chunk 2's stamp, at 30.
	c.Add([]byte("[t=100] Hel"), 10, done)
	c.Add([]byte("lo[t=2"), 30, done)
	c.Add([]byte("00] world"), 35, done)
	c.Finish(done)
	want := [][2]int64{{100, 30}, {200, 35}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %v, want %v", got, want)
	}
}
