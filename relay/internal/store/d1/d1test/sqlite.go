//go:build !js

// Package d1test opens the D1 schema on SQLite, the engine D1 runs, for
// the tests of the D1 store and of the edge that runs over it.
package d1test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite" // D1 is SQLite: tests run the real schema and statements on it
)

// OpenSQLite returns a fresh SQLite database with the D1 migrations in
// dir applied (those wrangler applies; a path relative to the calling
// test's package), one connection at a time as D1 runs statements. It is
// closed when the test ends.
func OpenSQLite(t testing.TB, dir string) *DB {
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
	return &DB{SQL: db}
}

// DB is the D1 store's DB (d1.DB) over SQLite: it hands the store each
// query's rows all at once, columns as nil, int64, float64, string or
// []byte, as the Worker's binding does (db_js.go).
type DB struct {
	// SQL is the database itself, for statements run beside the store.
	SQL *sql.DB
}

// Exec runs a statement and returns how many rows it changed.
func (d *DB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := d.SQL.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Query runs a statement and returns its rows.
func (d *DB) Query(ctx context.Context, query string, args ...any) ([][]any, error) {
	rows, err := d.SQL.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			switch v.(type) {
			case nil, int64, float64, string, []byte:
			default:
				return nil, fmt.Errorf("d1test: column %s is a %T, which D1 never returns", cols[i], v)
			}
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}
