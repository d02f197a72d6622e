//go:build js && wasm && kefuedgetest

package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"runtime"
	"sync"
)

// instanceID names this Go instance: made once, on first use.
var instanceID = sync.OnceValue(func() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
})

// testHooks adds routes for the edge test and the soak test (edge/test,
// edge/bench/soak.js), built only with the tag kefuedgetest (make
// test-edge): which instance answered and how many requests it served,
// and the two ways a Go program fails: a panic in the request's own
// goroutine, and one in another goroutine, which no recover can catch.
func testHooks(h http.Handler, m *many) http.Handler {
	id := instanceID()
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("GET /__kefu_test/instance", func(w http.ResponseWriter, r *http.Request) {
		served := int64(1)
		if m != nil {
			served = m.served
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"instance": id, "served": served, "reuse": m != nil, "goroutines": runtime.NumGoroutine()})
	})
	mux.HandleFunc("POST /__kefu_test/panic", func(http.ResponseWriter, *http.Request) {
		panic("kefu-edge test: a panic in a handler")
	})
	mux.HandleFunc("POST /__kefu_test/crash", func(http.ResponseWriter, *http.Request) {
		go panic("kefu-edge test: a panic in a goroutine of its own")
		select {}
	})
	return mux
}
