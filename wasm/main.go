//go:build js && wasm

// Command wasm is the widget's WebAssembly module: it loads the intent
// model, classifies visitor messages and computes the session fingerprint,
// exposed to JavaScript as globalThis.kefuWasm (docs/wasm.md).
package main

import "syscall/js"

func main() {
	a := &api{}
	obj := a.exports()
	js.Global().Set("kefuWasm", obj)
	if ready := js.Global().Get("__kefuWasmReady"); ready.Type() == js.TypeFunction {
		ready.Invoke(obj)
	}
	// The exported functions are Go callbacks: main must not return.
	select {}
}
