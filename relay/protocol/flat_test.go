package protocol

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

var flatSeeds = []string{
	`{"type":"message","id":"m1","text":"hi"}`,
	` { "type" : "message" , "id" : "m1" , "text" : "hi \"there\" \u00e9\n" } `,
	`{"type":"message","id":"m1","text":"hi","intent":"shipping","page_url":"https://a.example/p?q=1#f","page_title":"P"}`,
	`{"type":"message","conversation_id":"c1","id":"a1","text":"reply"}`,
	`{"type":"message","id":"m1","text":"\ud800 lone surrogate"}`,
	`{"type":"message","id":"","text":"no id"}`,
	`{"type":"message","id":"m1","text":"` + string(make([]byte, 0)) + `"}`,
	`{"type":"message","id":"m1","id":"m2","text":"x"}`,
	`{"type":"message","ID":"m1","text":"x"}`,
	`{"type":"message","id":"m1","text":"x","extra":"y"}`,
	`{"type":"message","id":"m1","text":5}`,
	`{"type":"message","id":"m1","text":"x"} trailing`,
	`{"type":"message","id":"m1","text":"x",}`,
	`{"t\u0079pe":"message","id":"m1","text":"x"}`,
	`{"type":"message","id":"m1","text":"bad \x escape"}`,
	`{"type":"message","id":"m1","text":"x","page_url":"javascript:alert(1)"}`,
	`{"type":"typing","on":true}`,
	`{"type":"hello","last_seq":0}`,
	`{"type":"hello","token":"mhf2x3ab.Qm9vbS1ib29tLXRoaXMtaXMtYS10b2tlbi1leGFtcGxl","conversation_id":"k3n5q2w8x7p1m4ra","last_seq":12,"fingerprint":"9f86d081","lang":"de","locale":"de-DE","tz":"Europe/Berlin","referrer":"https://b.example/x"}`,
	`{"type":"hello","last_seq":18446744073709551616}`,
	`{"type":"hello","last_seq":012}`, `{"type":"hello","last_seq":-1}`, `{"type":"hello","last_seq":1.5}`, `{"type":"hello","last_seq":1e3}`,
	`{"type":"hello","last_seq":"3"}`, `{"type":"hello","lang":"not a tag!"}`, `{"type":"hello","last_seq":1,"last_seq":2}`,
	`{"type":"hello","token":5}`, `{"type":"hello","status":"online"}`, `{"type":"hello","positions":true}`,
	`{"type":"message","id":7,"text":"x"}`,
	`{}`, `{"type":"message"}`, `"message"`, `{"type":"message","id":"m1","text":"x"`,
}

// The fast path takes the frames sent most, escapes and spaces included.
func TestDecodeFlatTakesMessages(t *testing.T) {
	for _, tt := range []struct {
		table map[string]frameSpec
		in    string
		want  any
	}{
		{clientFrames, flatSeeds[0], &Send{Type: TypeMessage, ID: "m1", Text: "hi"}},
		{clientFrames, flatSeeds[1], &Send{Type: TypeMessage, ID: "m1", Text: "hi \"there\" é\n"}},
		{agentFrames, flatSeeds[3], &AgentSend{Type: TypeMessage, ConversationID: "c1", ID: "a1", Text: "reply"}},
		{clientFrames, flatSeeds[17], &Hello{Type: TypeHello}},
		{clientFrames, flatSeeds[18], &Hello{Type: TypeHello, Token: "mhf2x3ab.Qm9vbS1ib29tLXRoaXMtaXMtYS10b2tlbi1leGFtcGxl",
			ConversationID: "k3n5q2w8x7p1m4ra", LastSeq: 12, Fingerprint: "9f86d081", Lang: "de", Locale: "de-DE", TZ: "Europe/Berlin",
			Referrer: "https://b.example/x"}},
	} {
		v, ok, err := decodeFlat(tt.table, []byte(tt.in))
		if !ok || err != nil || !reflect.DeepEqual(v, tt.want) {
			t.Errorf("decodeFlat(%s) = %#v, %v, %v; want %#v", tt.in, v, ok, err, tt.want)
		}
	}
	// Left to the full decoder: its errors name what is wrong.
	for _, in := range append([]string{flatSeeds[7], flatSeeds[8], flatSeeds[10], flatSeeds[13], flatSeeds[16]}, append(flatSeeds[19:25:25], flatSeeds[26:31]...)...) {
		if _, ok, _ := decodeFlat(clientFrames, []byte(in)); ok {
			t.Errorf("decodeFlat took %s", in)
		}
	}
}

// Whatever the fast path decides, the full decoder decides the same: the
// same frame, or the same error.
func FuzzDecodeFlat(f *testing.F) {
	for _, s := range flatSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) {
			return // decodeWith refuses it before either path
		}
		for _, table := range []map[string]frameSpec{clientFrames, agentFrames} {
			v, ok, err := decodeFlat(table, data)
			if !ok {
				continue
			}
			w, werr := decodeFull(table, data)
			if !reflect.DeepEqual(v, w) || !reflect.DeepEqual(err, werr) {
				t.Fatalf("%s: fast path %#v, %v; full decoder %#v, %v", data, v, err, w, werr)
			}
		}
	})
}

// BenchmarkDecodeMessage is a visitor's 200-byte message as the chat
// benchmark sends it; -run '^$' -bench DecodeMessage -benchmem.
func BenchmarkDecodeMessage(b *testing.B) {
	frame := []byte(`{"type":"message","id":"b.3.1795500000123456789.0.42","text":"` + string(make200()) + `"}`)
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := Decode(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeFull(clientFrames, frame); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func make200() []byte {
	b := make([]byte, 200)
	for i := range b {
		b[i] = 'k'
	}
	return b
}

// BenchmarkDecodeHello is a returning visitor's hello, the first frame of
// every connection; -run '^$' -bench DecodeHello -benchmem.
func BenchmarkDecodeHello(b *testing.B) {
	frame := []byte(flatSeeds[18])
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := Decode(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeFull(clientFrames, frame); err != nil {
				b.Fatal(err)
			}
		}
	})
}
