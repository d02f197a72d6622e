package router

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"slices"
	"testing"
)

func TestRoundTripClassifiesIdentically(t *testing.T) {
	m := loadShop(t)
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary: %v", err)
	}
	got, err := Load(b)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.Hash() != m.Hash() || len(m.Hash()) != 64 {
		t.Errorf("hash: got %q, want %q (64 hex digits)", got.Hash(), m.Hash())
	}
	b2, _ := got.MarshalBinary()
	if !bytes.Equal(b, b2) {
		t.Errorf("re-marshalled bytes differ: %d vs %d bytes", len(b2), len(b))
	}
	for _, text := range []string{"where is my order", "运费多少", "tell me a joke", "ｒｅｆｕｎｄ", ""} {
		if g, w := got.Classify(text), m.Classify(text); !reflect.DeepEqual(g, w) {
			t.Errorf("Classify(%q) after Load: got %+v, want %+v", text, g, w)
		}
	}
}

func TestFitIsDeterministic(t *testing.T) {
	a, b := loadShop(t), loadShop(t)
	if a.Hash() != b.Hash() {
		t.Errorf("two fits of the same intents: got hashes %s and %s, want equal", a.Hash(), b.Hash())
	}
}

// withCRC replaces the trailing checksum so a test (or the fuzzer) reaches
// the parser behind it.
func withCRC(b []byte) []byte {
	if len(b) < 4 {
		return b
	}
	out := append([]byte(nil), b...)
	binary.LittleEndian.PutUint32(out[len(out)-4:], crc32.ChecksumIEEE(out[:len(out)-4]))
	return out
}

func TestLoadRejects(t *testing.T) {
	good, _ := loadShop(t).MarshalBinary()
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0x40
	older := append([]byte(nil), good...)
	older[4] = minVersion - 1 // version 2 had no calibration curves
	newer := append([]byte(nil), good...)
	newer[4] = modelVersion + 1
	tests := []struct {
		name string
		data []byte
	}{
		{name: "nil", data: nil},
		{name: "magic only", data: []byte("KFIM")},
		{name: "wrong magic", data: withCRC(append([]byte("NOPE"), good[4:]...))},
		{name: "older version", data: withCRC(older)},
		{name: "newer version", data: withCRC(newer)},
		{name: "truncated", data: good[:len(good)/2]},
		{name: "truncated with valid crc", data: withCRC(good[:len(good)/2])},
		{name: "bit flip", data: flipped},
		{name: "bit flip with valid crc", data: withCRC(flipped)},
		{name: "trailing bytes", data: withCRC(append(append([]byte(nil), good[:len(good)-4]...), 0, 0, 0, 0, 0))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Load(tt.data)
			if err == nil {
				// A flipped bit behind a fixed CRC can land on a byte that
				// is still a valid model (an answer's text); that is fine
				// as long as the model works.
				if tt.name == "bit flip with valid crc" {
					m.Classify("where is my order")
					return
				}
				t.Fatalf("Load: got a model, want an error")
			}
			if !errors.Is(err, ErrBadModel) {
				t.Errorf("Load: got %v, want an error wrapping ErrBadModel", err)
			}
		})
	}
}

func FuzzLoad(f *testing.F) {
	good, err := loadShop(f).MarshalBinary()
	if err != nil {
		f.Fatalf("MarshalBinary: %v", err)
	}
	f.Add(good)
	f.Add(good[:len(good)/3])
	f.Add([]byte("KFIM\x02"))
	f.Add([]byte{})
	small := encode(&fitted{
		intents: []Intent{{Name: "a", Action: ActionAnswer, Answer: "x"}},
		opts:    Options{Threshold: 0.5, Margin: 0.1},
		feats:   []string{"<a>"}, idf: []float64{1}, bias: []float64{0},
		linear: [][]entry{{{0, 1}}}, proto: [][]entry{{{0, 1}}},
	})
	f.Add(small)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, b := range [][]byte{data, withCRC(data)} {
			m, err := Load(b)
			if err != nil {
				if !errors.Is(err, ErrBadModel) {
					t.Fatalf("Load: error %v does not wrap ErrBadModel", err)
				}
				continue
			}
			// Whatever loads must classify, ground and route without panicking.
			m.Classify("where is my order 运费")
			m.Grounding("refund", 3)
			m.Route("refund", []Agent{{ID: "a", Skills: "refund", Capacity: 1}})
		}
	})
}

// FuzzAddTo checks the inlined postings decoder against a plain one on
// any bytes: the same sums, and a malformed entry ends the feature
// without a panic.
func FuzzAddTo(f *testing.F) {
	f.Add([]byte{1, 5, 2, 0xfb}, 4)
	f.Add([]byte{0x81, 0x00, 7, 3, 1}, 200)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1}, 3)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		n = min(max(n, 0), 300)
		p := postings{start: []uint32{0, uint32(len(data))}, data: data, scale: 0.5}
		got := make([]float64, n)
		p.addTo(0, 3, got)
		want := make([]float64, n)
		last := -1
		for i := 0; i < len(data); {
			d, k := binary.Uvarint(data[i:])
			if k <= 0 || k > 5 || d == 0 || last+int(d) >= n || i+k >= len(data) {
				break
			}
			i += k
			last += int(d)
			want[last] += 3 * (float64(int8(data[i])) * 0.5)
			i++
		}
		if !slices.Equal(got, want) {
			t.Fatalf("addTo(%x, %d) = %v, want %v", data, n, got, want)
		}
	})
}
