package protocol

import (
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want any
		code Code
	}{
		{name: "hello new visitor", in: `{"type":"hello","last_seq":0}`, want: &Hello{Type: "hello"}},
		{name: "hello resume", in: `{"type":"hello","token":"abc_DEF-123","conversation_id":"c1","last_seq":42,"fingerprint":"00ff"}`,
			want: &Hello{Type: "hello", Token: "abc_DEF-123", ConversationID: "c1", LastSeq: 42, Fingerprint: "00ff"}},
		{name: "message", in: `{"type":"message","id":"m-1","text":"héllo 你好"}`, want: &Send{Type: "message", ID: "m-1", Text: "héllo 你好"}},
		{name: "message answered in browser", in: `{"type":"message","id":"m-2","text":"shipping?","intent":"shipping"}`, want: &Send{Type: "message", ID: "m-2", Text: "shipping?", Intent: "shipping"}},
		{name: "typing", in: `{"type":"typing","on":true}`, want: &Typing{Type: "typing", On: true}},
		{name: "identify", in: `{"type":"identify","traits":{"name":"Ann","email":"ann@example.com"}}`, want: &Identify{Type: "identify", Traits: map[string]string{"name": "Ann", "email": "ann@example.com"}}},
		{name: "fingerprint", in: `{"type":"fingerprint","fingerprint":"` + strings.Repeat("ab", 32) + `"}`, want: &Fingerprint{Type: "fingerprint", Fingerprint: strings.Repeat("ab", 32)}},
		{name: "identify non-string trait", in: `{"type":"identify","traits":{"age":42}}`, code: CodeBadField},
		{name: "identify bad trait name", in: `{"type":"identify","traits":{"Bad Key":"x"}}`, code: CodeBadField},
		{name: "identify duplicate trait", in: `{"type":"identify","traits":{"a":"1","a":"2"}}`, code: CodeDuplicateKey},
		{name: "short fingerprint frame", in: `{"type":"fingerprint","fingerprint":"abcd"}`, code: CodeBadField},
		{name: "whitespace around", in: " \n{\"type\":\"typing\",\"on\":false}\n", want: &Typing{Type: "typing"}},

		{name: "not json", in: `hello`, code: CodeBadFrame},
		{name: "empty", in: ``, code: CodeBadFrame},
		{name: "array", in: `[1,2]`, code: CodeBadFrame},
		{name: "string", in: `"hello"`, code: CodeBadFrame},
		{name: "truncated", in: `{"type":"hello"`, code: CodeBadFrame},
		{name: "two objects", in: `{"type":"typing","on":true}{"type":"typing","on":true}`, code: CodeBadFrame},
		{name: "trailing garbage", in: `{"type":"typing","on":true} x`, code: CodeBadFrame},
		{name: "no type", in: `{"on":true}`, code: CodeBadField},
		{name: "type not string", in: `{"type":5}`, code: CodeBadField},
		{name: "unknown type", in: `{"type":"launch_missiles"}`, code: CodeUnknownType},
		{name: "server-only type", in: `{"type":"ack","id":"x","seq":1}`, code: CodeUnknownType},
		{name: "unknown field", in: `{"type":"typing","on":true,"admin":true}`, code: CodeUnknownField},
		{name: "case-folded key", in: `{"type":"message","ID":"m","text":"x"}`, code: CodeUnknownField},
		{name: "duplicate key", in: `{"type":"message","id":"a","id":"b","text":"x"}`, code: CodeDuplicateKey},
		{name: "duplicate type", in: `{"type":"typing","type":"hello","on":true}`, code: CodeDuplicateKey},
		{name: "wrong type bool", in: `{"type":"typing","on":"yes"}`, code: CodeBadField},
		{name: "negative seq", in: `{"type":"hello","last_seq":-1}`, code: CodeBadField},
		{name: "fraction seq", in: `{"type":"hello","last_seq":1.5}`, code: CodeBadField},
		{name: "huge seq", in: `{"type":"hello","last_seq":1e40}`, code: CodeBadField},
		{name: "text not string", in: `{"type":"message","id":"a","text":{"x":1}}`, code: CodeBadField},
		{name: "missing id", in: `{"type":"message","text":"hi"}`, code: CodeBadField},
		{name: "id with space", in: `{"type":"message","id":"a b","text":"hi"}`, code: CodeBadField},
		{name: "id too long", in: `{"type":"message","id":"` + strings.Repeat("a", 65) + `","text":"hi"}`, code: CodeBadField},
		{name: "blank text", in: `{"type":"message","id":"a","text":"  \n "}`, code: CodeBadField},
		{name: "token with spaces", in: `{"type":"hello","token":"a b","last_seq":0}`, code: CodeBadField},
		{name: "fingerprint not hex", in: `{"type":"hello","fingerprint":"xyz","last_seq":0}`, code: CodeBadField},
		{name: "hello in a language", in: `{"type":"hello","last_seq":0,"lang":"pt-BR"}`, want: &Hello{Type: "hello", Lang: "pt-BR"}},
		{name: "lang with a space", in: `{"type":"hello","last_seq":0,"lang":"de DE"}`, code: CodeBadField},
		{name: "lang with markup", in: `{"type":"hello","last_seq":0,"lang":"<b>"}`, code: CodeBadField},
		{name: "lang starting with a digit", in: `{"type":"hello","last_seq":0,"lang":"1de"}`, code: CodeBadField},
		{name: "lang with an empty part", in: `{"type":"hello","last_seq":0,"lang":"de--at"}`, code: CodeBadField},
		{name: "lang too long", in: `{"type":"hello","last_seq":0,"lang":"` + strings.Repeat("ab-", 12) + `ab"}`, code: CodeBadField},
		{name: "hello with context", in: `{"type":"hello","last_seq":0,"locale":"de-AT","tz":"America/Argentina/Buenos_Aires","referrer":"https://www.example.org/search?q=x"}`,
			want: &Hello{Type: "hello", Locale: "de-AT", TZ: "America/Argentina/Buenos_Aires", Referrer: "https://www.example.org/search?q=x"}},
		{name: "tz Etc", in: `{"type":"hello","last_seq":0,"tz":"Etc/GMT+3"}`, want: &Hello{Type: "hello", TZ: "Etc/GMT+3"}},
		{name: "tz with markup", in: `{"type":"hello","last_seq":0,"tz":"<img src=x>"}`, code: CodeBadField},
		{name: "tz with a dot path", in: `{"type":"hello","last_seq":0,"tz":"../etc/passwd"}`, code: CodeBadField},
		{name: "tz empty part", in: `{"type":"hello","last_seq":0,"tz":"Europe//Berlin"}`, code: CodeBadField},
		{name: "tz too long", in: `{"type":"hello","last_seq":0,"tz":"` + strings.Repeat("A", 65) + `"}`, code: CodeBadField},
		{name: "tz not a string", in: `{"type":"hello","last_seq":0,"tz":-180}`, code: CodeBadField},
		{name: "locale bad", in: `{"type":"hello","last_seq":0,"locale":"en_US.UTF-8"}`, code: CodeBadField},
		{name: "referrer javascript", in: `{"type":"hello","last_seq":0,"referrer":"javascript:alert(1)"}`, code: CodeBadField},
		{name: "referrer relative", in: `{"type":"hello","last_seq":0,"referrer":"/from/here"}`, code: CodeBadField},
		{name: "referrer too long", in: `{"type":"hello","last_seq":0,"referrer":"https://a.example/` + strings.Repeat("p", MaxURLLen) + `"}`, code: CodeBadField},
		{name: "message with page", in: `{"type":"message","id":"m-3","text":"hi","page_url":"https://shop.example/cart?token=s3cret#x","page_title":"Cart <b>2</b>"}`,
			want: &Send{Type: "message", ID: "m-3", Text: "hi", PageURL: "https://shop.example/cart?token=s3cret#x", PageTitle: "Cart <b>2</b>"}},
		{name: "page_url data", in: `{"type":"message","id":"m","text":"hi","page_url":"data:text/html,<script>alert(1)</script>"}`, code: CodeBadField},
		{name: "page_url no host", in: `{"type":"message","id":"m","text":"hi","page_url":"https:///x"}`, code: CodeBadField},
		{name: "page_url not a string", in: `{"type":"message","id":"m","text":"hi","page_url":["https://a.example/"]}`, code: CodeBadField},
		{name: "page_title too long", in: `{"type":"message","id":"m","text":"hi","page_title":"` + strings.Repeat("t", MaxTitleLen+1) + `"}`, code: CodeBadField},
		{name: "invalid utf8", in: "{\"type\":\"message\",\"id\":\"a\",\"text\":\"\xff\xfe\"}", code: CodeBadUTF8},
		{name: "nested duplicate", in: `{"type":"typing","on":true,"x":{"a":1,"a":2}}`, code: CodeDuplicateKey},
		{name: "deep nesting", in: `{"type":"typing","x":` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `}`, code: CodeBadFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.in))
			if tt.code != "" {
				var pe *Error
				if !errors.As(err, &pe) {
					t.Fatalf("Decode(%q) = %#v, %v; want error code %s", tt.in, got, err, tt.code)
				}
				if pe.Code != tt.code {
					t.Fatalf("code = %s (%s), want %s", pe.Code, pe.Message, tt.code)
				}
				if pe.Message == "" {
					t.Errorf("error %s has no message", pe.Code)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// The key table must name exactly the JSON keys of each frame struct, or a
// field could never be sent (or an unknown one slip through).
func TestClientFrameKeysMatchStructs(t *testing.T) {
	all := map[string]frameSpec{}
	for typ, spec := range clientFrames {
		all["visitor "+typ] = spec
	}
	for typ, spec := range agentFrames {
		all["agent "+typ] = spec
	}
	for typ, spec := range all {
		rt := reflect.TypeOf(spec.new()).Elem()
		var tags []string
		for i := 0; i < rt.NumField(); i++ {
			tags = append(tags, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
		}
		keys := append([]string(nil), spec.keys...)
		sort.Strings(tags)
		sort.Strings(keys)
		if !reflect.DeepEqual(tags, keys) {
			t.Errorf("%s: keys %v, struct tags %v", typ, keys, tags)
		}
	}
}

func TestDecodeAgent(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want any
		code Code
	}{
		{name: "hello", in: `{"type":"hello"}`, want: &AgentHello{Type: "hello"}},
		{name: "watch", in: `{"type":"watch","conversation_id":"c1","last_seq":3}`, want: &Watch{Type: "watch", ConversationID: "c1", LastSeq: 3}},
		{name: "reply", in: `{"type":"message","conversation_id":"c1","id":"r1","text":"hi"}`, want: &AgentSend{Type: "message", ConversationID: "c1", ID: "r1", Text: "hi"}},
		{name: "take", in: `{"type":"take","conversation_id":"c1"}`, want: &ConvRef{Type: "take", ConversationID: "c1"}},
		{name: "transfer", in: `{"type":"transfer","conversation_id":"c1","to":"queue"}`, want: &Transfer{Type: "transfer", ConversationID: "c1", To: "queue"}},
		{name: "presence", in: `{"type":"presence","status":"away"}`, want: &Presence{Type: "presence", Status: "away"}},
		{name: "visitor hello shape refused", in: `{"type":"hello","last_seq":0}`, code: CodeUnknownField},
		{name: "hello with status and positions", in: `{"type":"hello","status":"away","positions":{"c1":4}}`, want: &AgentHello{Type: "hello", Status: "away", Positions: map[string]uint64{"c1": 4}}},
		{name: "hello bad status", in: `{"type":"hello","status":"asleep"}`, code: CodeBadField},
		{name: "reply without conversation", in: `{"type":"message","id":"r1","text":"hi"}`, code: CodeBadField},
		{name: "bad presence", in: `{"type":"presence","status":"asleep"}`, code: CodeBadField},
		{name: "transfer nowhere", in: `{"type":"transfer","conversation_id":"c1","to":""}`, code: CodeBadField},
		{name: "visitor-only intent field", in: `{"type":"message","conversation_id":"c1","id":"r","text":"x","intent":"y"}`, code: CodeUnknownField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeAgent([]byte(tt.in))
			if tt.code != "" {
				var pe *Error
				if !errors.As(err, &pe) || pe.Code != tt.code {
					t.Fatalf("got %#v, %v; want code %s", got, err, tt.code)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
	// The visitor socket never accepts agent-only frames.
	if _, err := Decode([]byte(`{"type":"take","conversation_id":"c1"}`)); err == nil {
		t.Error("visitor decoder accepted take")
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","last_seq":0}`,
		`{"type":"hello","token":"t","conversation_id":"c","last_seq":3,"fingerprint":"ab"}`,
		`{"type":"message","id":"m1","text":"hi"}`,
		`{"type":"message","id":"m1","text":"hi","intent":"shipping"}`,
		`{"type":"message","id":"m1","text":"hi","page_url":"https://a.example/p?q=1#f","page_title":"P"}`,
		`{"type":"hello","last_seq":0,"locale":"fr-CA","tz":"Etc/GMT-14","referrer":"http://b.example/"}`,
		`{"type":"hello","last_seq":0,"tz":"A/B/C_D-E+1","referrer":"https://[::1]:80/"}`,
		`{"type":"typing","on":true}`,
		`{"type":"message","id":"a","id":"b","text":"x"}`,
		`{"type":"message","ID":"a","text":"x"}`,
		"{\"type\":\"message\",\"id\":\"a\",\"text\":\"\xff\"}",
		`[[[[[[[[[[`, `{"type":{"type":{}}}`, `{}`, `null`, `{"type":"hello","last_seq":1e999}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The agent decoder shares the machinery: it must not panic either.
		DecodeAgent(data)
		v, err := Decode(data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Code == "" || pe.Message == "" {
				t.Fatalf("error without code: %v", err)
			}
			if v != nil {
				t.Fatalf("value and error both returned")
			}
			return
		}
		// Context fields that pass are within their caps and shapes.
		switch f := v.(type) {
		case *Hello:
			if len(f.TZ) > MaxTZLen || len(f.Referrer) > MaxURLLen || len(f.Locale) > MaxLangLen {
				t.Fatalf("hello context over its caps accepted: %#v", f)
			}
			if f.Referrer != "" && !strings.HasPrefix(f.Referrer, "http://") && !strings.HasPrefix(f.Referrer, "https://") && !strings.HasPrefix(strings.ToLower(f.Referrer), "http") {
				t.Fatalf("referrer %q accepted", f.Referrer)
			}
		case *Send:
			if len(f.PageURL) > MaxURLLen || len(f.PageTitle) > MaxTitleLen {
				t.Fatalf("page over its caps accepted: %#v", f)
			}
		}
		// Whatever is accepted must survive a round trip unchanged and be
		// accepted again: the decoder never invents or drops fields.
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("marshal accepted frame: %v", err)
		}
		v2, err := Decode(out)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", out, err)
		}
		if !reflect.DeepEqual(v, v2) {
			t.Fatalf("round trip changed frame: %#v vs %#v", v, v2)
		}
	})
}
