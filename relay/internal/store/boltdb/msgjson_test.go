package boltdb

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// encodeMessage writes what json.Marshal writes, for every field, set or
// empty, and any text.
func FuzzEncodeMessage(f *testing.F) {
	f.Add("0123456789abcdef", uint64(7), "m1", "visitor", "", "", "hello <b>&</b>\n", int64(1795500000123456789), int16(0), "", "", false, "", "", "", uint8(0))
	f.Add("c", uint64(1), "", "agent", "a1", "Ann \"A\"", "é 中文 🙂 \u2028 \xff", int64(0), int16(-330), "faq", "browser", true, "s1", "https://a.example/p", "Title", uint8(1))
	f.Add("c", uint64(1), "", "bot", "", "", "", int64(-62135596800000000), int16(60), "", "", false, "", "", "", uint8(2))
	f.Fuzz(func(t *testing.T, conv string, seq uint64, clientID, from, authorID, author, text string, ns int64, offMin int16, intent, via string, incomplete bool, stream, pageURL, pageTitle string, extra uint8) {
		m := store.Message{ConversationID: conv, Seq: seq, ClientID: clientID, From: from, AuthorID: authorID, Author: author, Text: text,
			Time: time.Unix(0, ns).In(time.FixedZone("z", int(offMin)*60)), Intent: intent, Via: via, Incomplete: incomplete, StreamID: stream}
		switch extra % 4 {
		case 1:
			m.Page = &store.Page{URL: pageURL, Title: pageTitle}
		case 2:
			m.Rating = &store.Rating{Score: 5, Comment: pageTitle}
		case 3:
			m.Time = time.Date(10000+int(offMin&7), 1, 1, 0, 0, 0, 0, time.UTC) // MarshalJSON refuses it
		}
		want, werr := json.Marshal(m)
		got, err := encodeMessage(&m)
		if (err == nil) != (werr == nil) || string(got) != string(want) {
			t.Fatalf("encodeMessage = %s, %v; json.Marshal %s, %v", got, err, want, werr)
		}
		if err == nil {
			checkHeader(t, got)
		}
	})
}

// checkHeader holds decodeHeader to json.Unmarshal's result for v.
func checkHeader(t *testing.T, v []byte) {
	t.Helper()
	var want logHeader
	werr := json.Unmarshal(v, &want)
	got, err := decodeHeader(v)
	if (err == nil) != (werr == nil) || err == nil && got != want {
		t.Fatalf("decodeHeader(%s) = %+v, %v; json.Unmarshal %+v, %v", v, got, err, want, werr)
	}
	if werr == nil {
		if got, err := moveHeader(v); err != nil || got != want {
			t.Fatalf("moveHeader(%s) = %+v, %v; json.Unmarshal %+v", v, got, err, want)
		}
	}
}

// The log's moves read each entry's header where encodeMessage puts it;
// any other shape is decoded in full, with the same result.
func TestDecodeHeader(t *testing.T) {
	for _, v := range []string{
		`{"conversation_id":"0123456789abcdef","seq":7,"client_id":"m1","from":"visitor","text":"x","time":"2026-12-07T01:00:00Z"}`,
		`{"conversation_id":"0123456789abcdef","seq":7,"from":"visitor","text":"x","time":"2026-12-07T01:00:00Z"}`,
		`{"conversation_id":"0123456789abcdef","seq":18446744073709551615,"from":"bot"}`,
		`{"conversation_id":"0123456789abcdef","seq":18446744073709551616,"from":"bot"}`,
		`{"conversation_id":"0123456789abcdef","seq":07,"from":"bot"}`,
		`{"conversation_id":"0123456789abcdef","seq":-7,"from":"bot"}`,
		`{"conversation_id":"0123456789abcdef","seq":7.5,"from":"bot"}`,
		`{"conversation_id":"01234\u0035","seq":7,"client_id":"a\"b","from":"bot"}`,
		`{"conversation_id":"0123456789abcdef","seq":7,"client_id":"m\u0031","from":"bot"}`,
		`{"conversation_id":"0123456789abcdef","seq":7,"from":"bot","client_id":"late"}`,
		`{"seq":7,"conversation_id":"0123456789abcdef"}`,
		`{"conversation_id":"0123456789abcdef","seq":7,"client_id":"m1","from":"visitor","text":"cut`,
		`{"conversation_id":"0123456789abcdef","seq":7,"client_id":"m1","from":"visitor"} trailing`,
		`{"conversation_id":"0123456789abcdef","seq":7}`,
		`{"conversation_id":"0123456789abcdef","seq":7`,
		`{"conversation_id":"0123456789abcdef","seq":}`,
		`{"conversation_id":"","seq":0}`,
		``, `null`, `[]`,
	} {
		checkHeader(t, []byte(v))
	}
}

// BenchmarkDecodeHeader is a move's read of a 200-byte message's header;
// -run '^$' -bench DecodeHeader -benchmem.
func BenchmarkDecodeHeader(b *testing.B) {
	m := store.Message{ConversationID: "0123456789abcdef", Seq: 42, ClientID: "b.3.1795500000123456789.0.42", From: "visitor",
		Text: strings.Repeat("k", 200), Time: time.Unix(1795500000, 123456789).UTC()}
	v, err := encodeMessage(&m)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("move", func(b *testing.B) {
		for b.Loop() {
			if _, err := moveHeader(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("header", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeHeader(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unmarshal", func(b *testing.B) {
		for b.Loop() {
			var h logHeader
			if err := json.Unmarshal(v, &h); err != nil {
				b.Fatal(err)
			}
		}
	})
}
