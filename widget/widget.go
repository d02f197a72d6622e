// Package widget embeds the customer-site widget: the loader widget.js,
// the lazily loaded panel.js, the markdown renderer shared/markdown.js
// (also the admin page's and console's), and the message catalogues i18n/*.json (one
// file per language, read by the widget and by the relay; see
// docs/widget.md).
package widget

import "embed"

// FS is the widget's files, served by the relay at /widget.js and /assets/{hash}/{name}.
//
//go:embed *.js i18n/*.json shared/*.js
var FS embed.FS
