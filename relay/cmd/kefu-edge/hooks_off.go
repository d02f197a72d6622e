//go:build js && wasm && !kefuedgetest

package main

import "net/http"

// testHooks adds the edge test's routes in a build tagged kefuedgetest
// (hooks_on.go); this build has none.
func testHooks(h http.Handler, _ *many) http.Handler { return h }
