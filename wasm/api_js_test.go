//go:build js && wasm

package main

import (
	"strings"
	"syscall/js"
	"testing"

	"github.com/kefuhq/kefu/router"
)

// These tests call the module the way the widget does: through the
// JavaScript object, with JavaScript values.

func newExports(t *testing.T) js.Value {
	t.Helper()
	a := &api{}
	obj := a.exports()
	t.Cleanup(func() {
		for _, f := range a.funcs {
			f.Release()
		}
	})
	return obj
}

func modelBytes(t *testing.T) js.Value {
	t.Helper()
	m, err := router.Fit(router.DefaultIntents(), router.Options{})
	if err != nil {
		t.Fatalf("Fit: %v", err)
	}
	b, _ := m.MarshalBinary()
	u8 := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(u8, b)
	return u8
}

func TestJSLoadAndClassify(t *testing.T) {
	k := newExports(t)
	if got := k.Call("classify", "hello"); got.Get("error").String() != "classify: no model loaded" {
		t.Errorf("classify before load: got error %q, want %q", got.Get("error").String(), "classify: no model loaded")
	}
	res := k.Call("loadModel", modelBytes(t))
	if !res.Get("ok").Bool() {
		t.Fatalf("loadModel: got error %q", res.Get("error").String())
	}
	if h := k.Call("modelHash").String(); len(h) != 64 {
		t.Errorf("modelHash: got %q, want 64 hex digits", h)
	}
	if n := res.Get("intents").Length(); n != len(router.DefaultIntents()) {
		t.Errorf("intents: got %d, want %d", n, len(router.DefaultIntents()))
	}
	tests := []struct {
		name, text, want string
		wantAction       string
	}{
		{name: "english", text: "how long does shipping take?", want: "shipping", wantAction: "answer"},
		{name: "chinese", text: "我想退货", want: "returns", wantAction: "answer"},
		{name: "handoff", text: "can I talk to a human", want: "human", wantAction: "handoff"},
		{name: "out of scope", text: "what is the capital of peru", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := k.Call("classify", tt.text)
			if e := r.Get("error"); !e.IsUndefined() {
				t.Fatalf("classify: got error %q", e.String())
			}
			if got := r.Get("intent").String(); got != tt.want || r.Get("matched").Bool() != (tt.want != "") {
				t.Errorf("classify(%q): got intent %q matched %v, want %q", tt.text, got, r.Get("matched").Bool(), tt.want)
			}
			if got := r.Get("action").String(); got != tt.wantAction {
				t.Errorf("action: got %q, want %q", got, tt.wantAction)
			}
			if c := r.Get("confidence"); c.Type() != js.TypeNumber || c.Float() < 0 || c.Float() > 1 {
				t.Errorf("confidence: got %v, want a number in [0,1]", c)
			}
			if r.Get("ranked").Type() != js.TypeObject || r.Get("score").Type() != js.TypeNumber {
				t.Errorf("ranked/score: got %v/%v, want an array and a number", r.Get("ranked").Type(), r.Get("score").Type())
			}
		})
	}
}

func TestJSBadInput(t *testing.T) {
	k := newExports(t)
	u8 := js.Global().Get("Uint8Array").New(3)
	tests := []struct {
		name    string
		fn      string
		args    []any
		wantErr string
	}{
		{name: "load no args", fn: "loadModel", wantErr: "want one Uint8Array"},
		{name: "load string", fn: "loadModel", args: []any{"KFIM"}, wantErr: "want one Uint8Array"},
		{name: "load garbage", fn: "loadModel", args: []any{u8}, wantErr: "bad model"},
		{name: "classify number", fn: "classify", args: []any{42}, wantErr: "no model loaded"},
		{name: "hash before load", fn: "modelHash", wantErr: "no model loaded"},
		{name: "fingerprint nothing", fn: "fingerprint", wantErr: "want one signals object"},
		{name: "fingerprint no id", fn: "fingerprint", args: []any{map[string]any{"userAgent": "x"}}, wantErr: "visitorId is required"},
		{name: "fingerprint wrong type", fn: "fingerprint", args: []any{map[string]any{"visitorId": 7}}, wantErr: "visitorId must be a string"},
		{name: "fingerprint NaN", fn: "fingerprint", args: []any{map[string]any{"visitorId": "a", "screenWidth": js.Global().Get("NaN")}}, wantErr: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := k.Call(tt.fn, tt.args...)
			if r.Type() != js.TypeObject || r.Get("ok").Bool() || !strings.Contains(r.Get("error").String(), tt.wantErr) {
				t.Errorf("%s: got %v, want {ok:false, error containing %q}", tt.fn, js.Global().Get("JSON").Call("stringify", r), tt.wantErr)
			}
		})
	}
}

func TestJSFingerprint(t *testing.T) {
	k := newExports(t)
	got := k.Call("fingerprint", map[string]any{
		"visitorId": "v-123", "userAgent": "Mozilla/5.0", "language": "en-US",
		"timeZone": "Europe/Paris", "screenWidth": 1920, "screenHeight": 1080,
	})
	// Same vector as TestFingerprintKnownVectors/desktop.
	if want := "8021ca51c272d6944937cfcefb915ea52b54ff495f5543ab1addb98be993283f"; got.String() != want {
		t.Errorf("fingerprint: got %s, want %s", got.String(), want)
	}
}

// TestJSResultSameAsMap checks that the object JSON.parse makes of
// classify's JSON is the object js.ValueOf made of the map it replaced,
// bytes that are not UTF-8 included.
func TestJSResultSameAsMap(t *testing.T) {
	a := &api{}
	a.exports()
	m, err := router.Fit(router.DefaultIntents(), router.Options{})
	if err != nil {
		t.Fatalf("Fit: %v", err)
	}
	results := []router.Result{
		{Intent: "bad \xff utf-8 \xe2\x82", Score: 0.25, Answer: "\"q\" \\ \n \x01 运费", Ranked: []router.Match{{Intent: "\xc3", Score: 1e-9}},
			Choices: []router.Choice{{Intent: "x", Question: "y\xf0\x9f", Answer: ""}}},
	}
	for _, text := range []string{"how long does shipping take?", "我想退货", "what is the capital of peru", ""} {
		results = append(results, m.Classify(text))
	}
	for i, r := range results {
		b, ok := appendResultJSON(nil, r)
		if !ok {
			t.Fatalf("result %d: no JSON form", i)
		}
		got, want := a.parseJSON.Invoke(string(b)), js.ValueOf(resultMap(r))
		if path := jsDiff(got, want, "r"); path != "" {
			t.Errorf("result %d differs at %s: got %v, want %v", i, path,
				js.Global().Get("JSON").Call("stringify", got), js.Global().Get("JSON").Call("stringify", want))
		}
	}
}

// jsDiff returns where a and b first differ ("" if nowhere).
func jsDiff(a, b js.Value, path string) string {
	if a.Type() != b.Type() {
		return path + " (type)"
	}
	if a.Type() != js.TypeObject {
		if !a.Equal(b) {
			return path
		}
		return ""
	}
	ka, kb := js.Global().Get("Object").Call("keys", a), js.Global().Get("Object").Call("keys", b)
	if ka.Length() != kb.Length() {
		return path + " (keys)"
	}
	for i := 0; i < ka.Length(); i++ {
		k := ka.Index(i).String()
		if d := jsDiff(a.Get(k), b.Get(k), path+"."+k); d != "" {
			return d
		}
	}
	return ""
}
