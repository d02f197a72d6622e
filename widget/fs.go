//go:build !js

package widget

import "embed"

// FS is the widget's files, served by the relay at /widget.js and /assets/{hash}/{name}.
//
//go:embed *.js i18n/*.json shared/*.js
var FS embed.FS
