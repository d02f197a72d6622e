// Package widget embeds the customer-site widget: the loader widget.js and the lazily loaded panel.js.
package widget

import "embed"

// FS is the widget's files, served by the relay at /widget.js and /assets/{hash}/{name}.
//
//go:embed *.js
var FS embed.FS
