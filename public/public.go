// Package public holds the static files embedded into the kefu binary: the
// landing page, the demo page, the admin page, the agent console, what the
// two share, and the generated WebAssembly module (built by `make wasm`;
// until then the widget classifies on the relay).
package public

import "embed"

// FS is every embedded file, by path relative to this directory.
//
//go:embed *.html *.css *.js wasm admin console shared help
var FS embed.FS

// Bundle lists the folders whose ES modules and stylesheets load one
// another by relative URLs (admin and console import ../shared/): they are
// served under one content hash (web.Options.Bundle).
func Bundle() []string { return []string{"admin", "console", "shared", "help"} }
