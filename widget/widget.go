// Package widget embeds the customer-site widget: the loader widget.js,
// the lazily loaded panel.js and extra.js, the markdown renderer
// shared/markdown.js (also the admin page's and console's), and the message
// catalogues i18n/*.json (one file per language, read by the widget and by
// the relay; see docs/widget.md). The edge build embeds only the loader and
// the catalogues (fs_js.go).
package widget
