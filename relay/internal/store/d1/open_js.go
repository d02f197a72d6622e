//go:build js && wasm

package d1

import (
	"database/sql"
	"fmt"

	cfd1 "github.com/syumai/workers/cloudflare/d1"
)

// Open returns a store on the D1 database bound to the Worker as binding
// (wrangler.jsonc, d1_databases[].binding). It does no I/O: a missing
// binding is the only error.
func Open(binding string, opts Options) (*Store, error) {
	c, err := cfd1.OpenConnector(binding)
	if err != nil {
		return nil, fmt.Errorf("store: open D1 binding %q: %w", binding, err)
	}
	return New(sql.OpenDB(c), opts), nil
}
