//go:build js

package widget

import "embed"

// FS is what the edge build (a Worker) needs inside it: the loader, served
// at /widget.js, and the catalogues, which the relay's own code reads. The
// panel, its extra part and the shared modules are only ever served, so
// edge/build.sh puts them beside the Worker as Workers static assets at
// their content-hashed URLs, and the Worker knows them by hash alone
// (web.Options.ServedElsewhere; docs/decisions.md, issue 17).
//
//go:embed widget.js i18n/*.json
var FS embed.FS
