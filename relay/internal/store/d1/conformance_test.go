//go:build !js

package d1

import (
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/d1/d1test"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
)

// TestConformance runs the storage suite on the D1 backend over SQLite,
// the engine D1 runs, with the schema wrangler applies (migrations/). It
// proves the SQL (the single-statement append, the trigger that is the SQL
// form of store.ApplyMessage, the compare-and-set updates). What it cannot
// show is D1's own transport and limits; edge/test runs the edge build on
// wrangler's D1 for those. Accounts and sessions are not part of D1 (the
// edge has no people), so only the chat half of the suite applies.
func TestConformance(t *testing.T) {
	b := storetest.Backend[*Store]{
		Open: func(t *testing.T, onAppend func(store.Appended)) *Store {
			return New(openSQLite(t), Options{OnAppend: onAppend})
		},
	}
	storetest.Chat(t, b)
	storetest.Privacy(t, b)
}

// openSQLite returns a fresh SQLite database with the D1 migrations
// applied, one connection at a time as D1 runs statements.
func openSQLite(t *testing.T) *d1test.DB {
	t.Helper()
	return d1test.OpenSQLite(t, "migrations")
}
