//go:build !js

// Package d1test opens the D1 schema on SQLite, the engine D1 runs, for
// the tests of the D1 store and of the edge that runs over it.
package d1test

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite" // D1 is SQLite: tests run the real schema and statements on it
)

// OpenSQLite returns a fresh SQLite database with the D1 migrations in
// dir applied (those wrangler applies; a path relative to the calling
// test's package), one connection at a time as D1 runs statements. It is
// closed when the test ends.
func OpenSQLite(t testing.TB, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "d1.sqlite")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("d1test: migrations: %v (%d files)", err, len(files))
	}
	for _, f := range files {
		ddl, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(ddl)); err != nil {
			t.Fatalf("d1test: apply %s: %v", f, err)
		}
	}
	return db
}
