package boltdb

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// encodeEvent writes what json.Marshal writes, byte for byte, and
// decodeEvent reads it back as json.Unmarshal does.
func FuzzEncodeEvent(f *testing.F) {
	f.Add("0123456789abcdef/7", store.EventMessageCreated, "0123456789abcdef", int64(1795500000123456789), int16(0), uint64(7), uint64(1234), uint8(0))
	f.Add("e\"<&>\u2028\xff", "conversation.reopened", "c é", int64(0), int16(-330), uint64(0), uint64(0), uint8(1))
	f.Add("x", "rating", "c", int64(-62135596800000000), int16(60), uint64(1), uint64(0), uint8(2))
	f.Add("x", "t", "c", int64(5), int16(1), uint64(1), uint64(1), uint8(3))
	f.Fuzz(func(t *testing.T, id, typ, conv string, ns int64, offMin int16, seq, logPos uint64, extra uint8) {
		r := eventRecord{ID: id, Type: typ, Conv: conv, Time: time.Unix(0, ns).In(time.FixedZone("z", int(offMin)*60)), Seq: seq, Log: logPos}
		switch extra % 4 {
		case 1:
			r.Conversation = &store.Conversation{ID: conv, Status: store.StatusOpen}
		case 2:
			r.Data = json.RawMessage(`{"score": 5, "c":"<"}`)
		case 3:
			r.Time = time.Date(10000+int(offMin&7), 1, 1, 0, 0, 0, 0, time.UTC) // MarshalJSON refuses it
		}
		want, werr := json.Marshal(&r)
		got, err := encodeEvent(&r)
		if (err == nil) != (werr == nil) || string(got) != string(want) {
			t.Fatalf("encodeEvent = %s, %v; json.Marshal %s, %v", got, err, want, werr)
		}
		if err == nil {
			checkDecodeEvent(t, got)
		}
	})
}

// FuzzDecodeEvent holds decodeEvent to json.Unmarshal on any input.
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"id":"c/1","type":"message.created","conv":"c","time":"2026-12-07T06:00:00.123456789Z","seq":1,"log":9}`))
	f.Add([]byte(`{"id":"c/1","type":"message.created","conv":"c","time":"2026-12-07T06:00:00+05:30"}`))
	f.Add([]byte(`{"id":"c/1","type":"message.created","conv":"c","time":"2026-12-07T06:00:00Z","seq":01}`))
	f.Add([]byte(`{"id":"c/1","type":"x","conv":"c","time":"2026-12-07T06:00:00Z","log":18446744073709551616}`))
	f.Add([]byte(`{"id":"c\u00e9","type":"x","conv":"c","time":"2026-12-07T06:00:00Z","seq":2,"log":3} `))
	f.Fuzz(checkDecodeEvent)
}

func checkDecodeEvent(t *testing.T, v []byte) {
	t.Helper()
	var want eventRecord
	werr := json.Unmarshal(v, &want)
	got, err := decodeEvent(v)
	if (err == nil) != (werr == nil) {
		t.Fatalf("decodeEvent(%s) error %v; json.Unmarshal %v", v, err, werr)
	}
	if err != nil {
		return
	}
	if !got.Time.Equal(want.Time) || got.Time.String() != want.Time.String() {
		t.Fatalf("decodeEvent(%s) time %v; json.Unmarshal %v", v, got.Time, want.Time)
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeEvent(%s) = %+v; json.Unmarshal %+v", v, got, want)
	}
}

// encodeConversation writes what json.Marshal writes, byte for byte.
func FuzzEncodeConversation(f *testing.F) {
	f.Add("0123456789abcdef", "v1", "open", "agent", "a1", int64(1795500000123456789), int64(1795500000223456789), int16(0), uint64(7), "hello <b>&</b>", "faq", uint8(0))
	f.Add("c é", "v\"", "closed", "bot", "", int64(0), int64(-62135596800000000), int16(-330), uint64(0), "", "", uint8(1))
	f.Add("c", "v", "open", "queue", "", int64(5), int64(6), int16(1), uint64(1), "\u2028\xff", "", uint8(2))
	f.Fuzz(func(t *testing.T, id, visitor, status, handler, agent string, created, updated int64, offMin int16, last uint64, preview, intent string, extra uint8) {
		z := time.FixedZone("z", int(offMin)*60)
		c := store.Conversation{ID: id, VisitorID: visitor, Status: status, Handler: handler, AgentID: agent,
			CreatedAt: time.Unix(0, created).In(z), UpdatedAt: time.Unix(0, updated).In(z), LastSeq: last, Preview: preview, Intent: intent}
		switch extra % 3 {
		case 1:
			c.CreatedAt = time.Date(10000+int(offMin&7), 1, 1, 0, 0, 0, 0, time.UTC) // MarshalJSON refuses it
		case 2:
			c.UpdatedAt = time.Date(-1-int(offMin&7), 1, 1, 0, 0, 0, 0, time.UTC)
		}
		want, werr := json.Marshal(c)
		got, err := encodeConversation(&c)
		if (err == nil) != (werr == nil) || string(got) != string(want) {
			t.Fatalf("encodeConversation = %s, %v; json.Marshal %s, %v", got, err, want, werr)
		}
	})
}
