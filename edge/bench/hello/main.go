//go:build js && wasm

// Command hello is the baseline of make bench-edge: the smallest Go Worker
// on syumai/workers, answering every request with a fixed text. Its CPU per
// request is what any Go Worker pays to start (edge/bench/cpu.js).
package main

import (
	"io"
	"net/http"

	"github.com/syumai/workers"
)

func main() {
	workers.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "hello\n")
	}))
}
