package boltdb

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// encodeVisitor writes what json.Marshal writes, byte for byte.
func FuzzEncodeVisitor(f *testing.F) {
	f.Add("0123456789abcdef", "c1", "fp", "de", "Firefox", "Linux", "de-DE", "Europe/Berlin", "https://a.example/x", 3, int64(1795500000123456789), int64(1795500000223456789), int64(1795500000323456789), int16(60), uint8(1))
	f.Add("v é", "c\"", "", "", "", "", "", "", "", 0, int64(0), int64(0), int64(-62135596800000000), int16(-330), uint8(2))
	f.Add("v", "c", "\u2028\xff", "<b>", "", "", "", "", "", -1, int64(5), int64(0), int64(6), int16(1), uint8(3))
	f.Fuzz(func(t *testing.T, id, conv, fp, lang, browser, os, locale, tz, ref string, visits int, start, seen, created int64, offMin int16, shape uint8) {
		z := time.FixedZone("z", int(offMin)*60)
		at := func(ns int64) time.Time {
			if ns == 0 {
				return time.Time{}
			}
			return time.Unix(0, ns).In(z)
		}
		v := store.Visitor{ID: id, ConversationID: conv, Fingerprint: fp, Lang: lang, CreatedAt: time.Unix(0, created).In(z)}
		switch shape % 7 {
		case 1, 2, 3:
			v.Context = &store.VisitorContext{Browser: browser, OS: os, Locale: locale, TimeZone: tz, Referrer: ref, Visits: visits, VisitStart: at(start), LastSeen: at(seen)}
		case 4:
			v.Context = &store.VisitorContext{} // "context":{}
		case 5:
			v.Traits = map[string]string{"name": browser}
			v.Contact = &store.Contact{Email: os, At: at(seen)}
		case 6:
			v.Context = &store.VisitorContext{Browser: browser, LastSeen: time.Date(10000+int(offMin&7), 1, 1, 0, 0, 0, 0, time.UTC)} // MarshalJSON refuses it
		}
		if shape%7 == 2 {
			v.CreatedAt = time.Date(-1-int(offMin&7), 1, 1, 0, 0, 0, 0, time.UTC)
		}
		want, werr := json.Marshal(v)
		got, err := encodeVisitor(&v)
		if (err == nil) != (werr == nil) || string(got) != string(want) {
			t.Fatalf("encodeVisitor = %s, %v; json.Marshal %s, %v", got, err, want, werr)
		}
	})
}
