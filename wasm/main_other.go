//go:build !(js && wasm)

// Command wasm is the widget's WebAssembly module; it only does something
// when built with GOOS=js GOARCH=wasm (docs/wasm.md). This stub keeps
// `go build ./...` and `go vet ./...` working on other platforms, where the
// fingerprint code is still tested.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "kefu wasm: build with GOOS=js GOARCH=wasm (see docs/wasm.md)")
	os.Exit(2)
}
