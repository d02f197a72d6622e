package protocol

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// nested is a request body with the shapes the admin API uses: nested
// structs, slices of them, maps, pointers, an embedded struct, raw JSON.
type nested struct {
	embedded
	Name    string            `json:"name"`
	Items   []item            `json:"items,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Limit   *int              `json:"limit,omitempty"`
	Extra   json.RawMessage   `json:"extra,omitempty"`
	Ignored string            `json:"-"`
}

type embedded struct {
	Note string `json:"note,omitempty"`
}

type item struct {
	Text string   `json:"text"`
	Tags []string `json:"tags,omitempty"`
}

func TestDecodeObject(t *testing.T) {
	five := 5
	tests := []struct {
		name string
		in   string
		want nested
		code Code
		msg  string // a part of the error message
	}{
		{name: "ok", in: `{"name":"a","items":[{"text":"x","tags":["t"]}],"labels":{"Any Key":"v"},"limit":5,"note":"n","extra":{"Free":{"x":1}}}`,
			want: nested{Name: "a", Items: []item{{Text: "x", Tags: []string{"t"}}}, Labels: map[string]string{"Any Key": "v"}, Limit: &five, embedded: embedded{Note: "n"}, Extra: json.RawMessage(`{"Free":{"x":1}}`)}},
		{name: "empty object", in: `{}`, want: nested{}},
		{name: "unknown top-level field", in: `{"name":"a","admin":true}`, code: CodeUnknownField, msg: `"admin"`},
		{name: "case-folded key", in: `{"Name":"a"}`, code: CodeUnknownField, msg: `"Name"`},
		{name: "case-folded nested key", in: `{"items":[{"Text":"x"}]}`, code: CodeUnknownField, msg: `items[0]`},
		{name: "unknown nested field", in: `{"items":[{"text":"x"},{"text":"y","bold":true}]}`, code: CodeUnknownField, msg: `"bold" in items[1]`},
		{name: "ignored field is unknown", in: `{"Ignored":"x"}`, code: CodeUnknownField},
		{name: "duplicate key", in: `{"name":"a","name":"b"}`, code: CodeDuplicateKey},
		{name: "duplicate nested key", in: `{"labels":{"k":"1","k":"2"}}`, code: CodeDuplicateKey, msg: "labels"},
		{name: "duplicate inside raw json", in: `{"extra":{"a":1,"a":2}}`, code: CodeDuplicateKey},
		{name: "wrong type", in: `{"name":5}`, code: CodeBadField, msg: `"name" must be a string`},
		{name: "wrong nested type", in: `{"items":[{"text":true}]}`, code: CodeBadField, msg: `items.text`},
		{name: "negative pointer int ok", in: `{"limit":-1}`, want: nested{Limit: ptr(-1)}},
		{name: "fraction for int", in: `{"limit":1.5}`, code: CodeBadField},
		{name: "object for slice", in: `{"items":{"text":"x"}}`, code: CodeBadField, msg: "an array"},
		{name: "array", in: `[{"name":"a"}]`, code: CodeBadFrame},
		{name: "null", in: `null`, code: CodeBadFrame},
		{name: "empty", in: ``, code: CodeBadFrame},
		{name: "not json", in: `name=a`, code: CodeBadFrame},
		{name: "truncated", in: `{"name":"a"`, code: CodeBadFrame},
		{name: "trailing object", in: `{"name":"a"}{"name":"b"}`, code: CodeBadFrame, msg: "trailing"},
		{name: "trailing garbage", in: `{"name":"a"} x`, code: CodeBadFrame},
		{name: "whitespace around", in: " \n{\"name\":\"a\"}\n\t", want: nested{Name: "a"}},
		{name: "invalid utf8", in: "{\"name\":\"\xff\"}", code: CodeBadUTF8},
		{name: "too deep", in: `{"extra":` + strings.Repeat(`[`, 20) + strings.Repeat(`]`, 20) + `}`, code: CodeBadFrame, msg: "deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got nested
			err := DecodeObject([]byte(tt.in), &got)
			if tt.code != "" {
				var pe *Error
				if !errors.As(err, &pe) || pe.Code != tt.code {
					t.Fatalf("DecodeObject(%q) = %v; want code %s", tt.in, err, tt.code)
				}
				if pe.Message == "" || !strings.Contains(pe.Message, tt.msg) {
					t.Errorf("message %q does not say %q", pe.Message, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeObject(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if err := DecodeObject([]byte(`{}`), nested{}); err == nil {
		t.Error("a non-pointer target was accepted")
	}
}

func ptr[T any](v T) *T { return &v }

// A bad HTTP body and the same bad frame get the same code: the HTTP API
// and the socket share the decoder and the validation.
func TestBodiesAndFramesAgree(t *testing.T) {
	tests := []struct {
		name, body string
		code       Code
	}{
		{"unknown field", `{"id":"a","text":"x","admin":true}`, CodeUnknownField},
		{"case-folded key", `{"ID":"a","text":"x"}`, CodeUnknownField},
		{"duplicate key", `{"id":"a","id":"b","text":"x"}`, CodeDuplicateKey},
		{"wrong type", `{"id":"a","text":5}`, CodeBadField},
		{"bad id", `{"id":"a b","text":"x"}`, CodeBadField},
		{"blank text", `{"id":"a","text":"  "}`, CodeBadField},
		{"trailing data", `{"id":"a","text":"x"} {}`, CodeBadFrame},
		{"invalid utf8", "{\"id\":\"a\",\"text\":\"\xc3\x28\"}", CodeBadUTF8},
		{"not an object", `["a","x"]`, CodeBadFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body PostBody
			bodyErr := DecodeBody([]byte(tt.body), &body)
			frame := tt.body
			if strings.HasPrefix(frame, "{") {
				frame = `{"type":"message",` + frame[1:]
			}
			_, frameErr := Decode([]byte(frame))
			for what, err := range map[string]error{"body": bodyErr, "frame": frameErr} {
				var pe *Error
				if !errors.As(err, &pe) || pe.Code != tt.code || pe.Message == "" {
					t.Errorf("%s %s: %v, want code %s", what, tt.name, err, tt.code)
				}
			}
		})
	}
	var start StartBody
	if err := DecodeBody([]byte(`{"last_seq":-1}`), &start); !isCode(err, CodeBadField) {
		t.Errorf("negative last_seq in a start body: %v", err)
	}
	if err := DecodeBody([]byte(`{"last_seq":3,"fingerprint":"zz"}`), &start); !isCode(err, CodeBadField) {
		t.Errorf("bad fingerprint in a start body: %v", err)
	}
	start = StartBody{}
	if err := DecodeBody([]byte(`{"conversation_id":"c1","last_seq":3}`), &start); err != nil || start.LastSeq != 3 || start.ConversationID != "c1" {
		t.Errorf("good start body: %+v, %v", start, err)
	}
}

func isCode(err error, code Code) bool {
	var pe *Error
	return errors.As(err, &pe) && pe.Code == code
}

// Frame structs must stay flat: the frame decoder checks only top-level
// keys exactly (nested objects of a frame are maps, whose keys are data).
func TestFrameStructsFlat(t *testing.T) {
	for name, table := range map[string]map[string]frameSpec{"visitor": clientFrames, "agent": agentFrames} {
		for typ, spec := range table {
			rt := reflect.TypeOf(spec.new()).Elem()
			for i := 0; i < rt.NumField(); i++ {
				ft := rt.Field(i).Type
				for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					t.Errorf("%s %s frame: field %s holds a struct; decodeWith would not check its keys", name, typ, rt.Field(i).Name)
				}
			}
		}
	}
}

func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","items":[{"text":"x","tags":["t"]}],"labels":{"k":"v"},"limit":5,"note":"n","extra":{"x":[1,{"y":null}]}}`,
		`{"Name":"a"}`, `{"name":"a","name":"b"}`, `{"items":[{"Text":"x"}]}`, `{"limit":1e999}`,
		`{"extra":[[[[[[[[[[]]]]]]]]]]}`, `{}`, `[]`, `null`, "{\"name\":\"\xff\"}", `{"name":"a"} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v nested
		err := DecodeObject(data, &v)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Code == "" || pe.Message == "" {
				t.Fatalf("error without code: %v", err)
			}
			return
		}
		// What is accepted is plain JSON that encoding/json agrees with,
		// and survives a round trip.
		var plain nested
		if err := json.Unmarshal(data, &plain); err != nil {
			t.Fatalf("accepted %q that encoding/json refuses: %v", data, err)
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var again nested
		if err := DecodeObject(out, &again); err != nil {
			t.Fatalf("re-decode of %s: %v", out, err)
		}
	})
}

func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"id":"m1","text":"hi"}`, `{"id":"m1","text":"hi","intent":"shipping","fingerprint":"ab"}`,
		`{"conversation_id":"c","last_seq":3}`, `{"last_seq":-1}`, `{"ID":"a","text":"x"}`,
		`{"id":"a","id":"b","text":"x"}`, `{"id":"a","text":"x"} {}`, "{\"id\":\"a\",\"text\":\"\xc3\x28\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []any{new(PostBody), new(StartBody)} {
			err := DecodeBody(data, v)
			if err == nil {
				// An accepted body is a valid frame's worth of fields.
				if err := Validate(v); err != nil {
					t.Fatalf("accepted an invalid body %q: %v", data, err)
				}
				continue
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Code == "" || pe.Message == "" {
				t.Fatalf("error without code: %v", err)
			}
		}
	})
}
