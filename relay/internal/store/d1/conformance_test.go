//go:build !js

package d1

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
	_ "modernc.org/sqlite" // D1 is SQLite: the suite runs the real schema and statements on it
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
func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "d1.sqlite")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v (%d files)", err, len(files))
	}
	for _, f := range files {
		ddl, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(context.Background(), string(ddl)); err != nil {
			t.Fatalf("apply %s: %v", f, err)
		}
	}
	return db
}
