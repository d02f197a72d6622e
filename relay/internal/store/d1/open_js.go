//go:build js && wasm

package d1

import (
	"errors"
	"syscall/js"
)

// Open returns a store on db, the D1 database the Worker's env binds
// (wrangler.jsonc, d1_databases[].binding). It does no I/O: a missing
// binding (undefined) is the only error.
func Open(db js.Value, opts Options) (*Store, error) {
	if db.Type() != js.TypeObject {
		return nil, errNotBound
	}
	return New(jsDB{db: db}, opts), nil
}

var errNotBound = errors.New("store: no D1 database bound (wrangler.jsonc d1_databases)")
