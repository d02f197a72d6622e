package boltdb

import (
	"encoding/json"
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
	})
}
