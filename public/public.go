// Package public holds the static files embedded into the kefu binary: the
// landing page, the demo page, the admin page, the agent console and the
// generated WebAssembly module (built by `make wasm`; until then the widget
// classifies on the relay).
package public

import "embed"

// FS is every embedded file, by path relative to this directory.
//
//go:embed *.html wasm admin console
var FS embed.FS
