//go:build js && wasm

package main

import (
	"fmt"
	"syscall/js"

	"github.com/kefuhq/kefu/router"
)

// api holds the module's state: the loaded model. JavaScript is single
// threaded, so calls never overlap.
type api struct {
	model *router.Model
	funcs []js.Func // kept so they are not collected while JS holds them
	// parseJSON is JSON.parse, bound to JSON; buf is classify's result
	// text, reused between calls.
	parseJSON js.Value
	buf       []byte
}

// exports builds the kefuWasm object.
func (a *api) exports() js.Value {
	obj := js.Global().Get("Object").New()
	j := js.Global().Get("JSON")
	a.parseJSON = j.Get("parse").Call("bind", j)
	for name, fn := range map[string]func(args []js.Value) any{
		"loadModel":   a.loadModel,
		"modelHash":   a.modelHash,
		"classify":    a.classify,
		"fingerprint": a.fingerprint,
	} {
		f := js.FuncOf(guard(name, fn))
		a.funcs = append(a.funcs, f)
		obj.Set(name, f)
	}
	obj.Set("version", 2)
	return obj
}

// guard turns a panic into an {error} result: nothing a page passes in may
// crash the module, which would leave the widget without answers.
func guard(name string, fn func(args []js.Value) any) func(js.Value, []js.Value) any {
	return func(_ js.Value, args []js.Value) (out any) {
		defer func() {
			if r := recover(); r != nil {
				out = errResult(fmt.Sprintf("%s: internal error: %v", name, r))
			}
		}()
		return fn(args)
	}
}

func errResult(msg string) map[string]any {
	return map[string]any{"ok": false, "error": msg}
}

// loadModel(Uint8Array) → {ok, error, intents}. The hash is not computed
// here: SHA-256 of a 1 MB model costs the widget more than the load itself
// (modelHash gives it on demand).
func (a *api) loadModel(args []js.Value) any {
	if len(args) != 1 || args[0].Type() != js.TypeObject || !args[0].InstanceOf(js.Global().Get("Uint8Array")) {
		return errResult("loadModel: want one Uint8Array")
	}
	b := make([]byte, args[0].Get("length").Int())
	js.CopyBytesToGo(b, args[0])
	m, err := router.Load(b)
	if err != nil {
		return errResult(err.Error())
	}
	a.model = m
	var names []any
	for _, in := range m.Intents() {
		names = append(names, in.Name)
	}
	return map[string]any{"ok": true, "error": "", "intents": names}
}

// modelHash() → hex SHA-256 of the loaded model (the relay's ETag), or
// {error} before a model is loaded.
func (a *api) modelHash(args []js.Value) any {
	if a.model == nil {
		return errResult("modelHash: no model loaded")
	}
	return a.model.Hash()
}

// classify(text) → {intent, score, matched, confidence, answer, action,
// skill, ranked, choices}; choices ([{intent, question, answer}], "did you mean
// …?") is empty unless the question is between two intents.
func (a *api) classify(args []js.Value) any {
	if a.model == nil {
		return errResult("classify: no model loaded")
	}
	if len(args) != 1 || args[0].Type() != js.TypeString {
		return errResult("classify: want one string")
	}
	r := a.model.Classify(args[0].String())
	b, ok := appendResultJSON(a.buf[:0], r)
	if !ok {
		return resultMap(r)
	}
	a.buf = b
	return a.parseJSON.Invoke(string(b))
}

// fingerprint({visitorId, userAgent, language, timeZone, screenWidth,
// screenHeight}) → hex string, or {error} on bad input.
func (a *api) fingerprint(args []js.Value) any {
	if len(args) != 1 || args[0].Type() != js.TypeObject {
		return errResult("fingerprint: want one signals object")
	}
	o := args[0]
	str := func(k string) (string, error) {
		switch v := o.Get(k); v.Type() {
		case js.TypeUndefined, js.TypeNull:
			return "", nil
		case js.TypeString:
			return v.String(), nil
		default:
			return "", fmt.Errorf("fingerprint: %s must be a string", k)
		}
	}
	num := func(k string) (int, error) {
		switch v := o.Get(k); v.Type() {
		case js.TypeUndefined, js.TypeNull:
			return 0, nil
		case js.TypeNumber:
			f := v.Float()
			if f != f || f < 0 || f > 1e6 {
				return 0, fmt.Errorf("fingerprint: %s out of range", k)
			}
			return int(f), nil
		default:
			return 0, fmt.Errorf("fingerprint: %s must be a number", k)
		}
	}
	var s Signals
	var err error
	for _, f := range []struct {
		key string
		dst *string
	}{{"visitorId", &s.VisitorID}, {"userAgent", &s.UserAgent}, {"language", &s.Language}, {"timeZone", &s.TimeZone}} {
		if *f.dst, err = str(f.key); err != nil {
			return errResult(err.Error())
		}
	}
	if s.ScreenWidth, err = num("screenWidth"); err != nil {
		return errResult(err.Error())
	}
	if s.ScreenHeight, err = num("screenHeight"); err != nil {
		return errResult(err.Error())
	}
	fp, err := fingerprint(s)
	if err != nil {
		return errResult(err.Error())
	}
	return fp
}
