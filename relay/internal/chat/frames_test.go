package chat

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// A message frame is what json.Marshal writes for its wire form, for
// every field, set or empty, and any text.
func FuzzMessageFrame(f *testing.F) {
	f.Add("0123456789abcdef", uint64(7), "m1", "visitor", "", "hello <b>&</b>\n", int64(1795500000123), "", "", false, "", "", "", uint8(0))
	f.Add("c", uint64(1), "", "agent", "Ann \"A\"", "é 中文 🙂 \u2028 \xff", int64(-5), "faq", "browser", true, "s1", "https://a.example/p", "Title", uint8(1))
	f.Fuzz(func(t *testing.T, conv string, seq uint64, clientID, from, author, text string, ms int64, intent, via string, incomplete bool, stream, pageURL, pageTitle string, extra uint8) {
		m := store.Message{ConversationID: conv, Seq: seq, ClientID: clientID, From: from, Author: author, Text: text,
			Time: time.UnixMilli(ms), Intent: intent, Via: via, Incomplete: incomplete, StreamID: stream}
		switch extra % 3 {
		case 1:
			m.Page = &store.Page{URL: pageURL, Title: pageTitle}
		case 2:
			m.Rating = &store.Rating{Score: 4, Comment: pageTitle}
		}
		want, err := json.Marshal(MessageOf(m))
		if err != nil {
			t.Fatal(err)
		}
		f := MessageFrame(m)
		if string(f.Data) != string(want) || f.Conv != conv || f.Seq != seq {
			t.Fatalf("MessageFrame = %s (%s/%d); json.Marshal %s", f.Data, f.Conv, f.Seq, want)
		}
	})
}
