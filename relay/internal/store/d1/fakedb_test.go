package d1

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"reflect"
	"sync"
	"testing"
)

// A scripted database/sql driver: each test lists the statements the store
// must run, in order, with what D1 answers. It checks the store's own
// logic (retries, duplicates, compare-and-set) step by step; the SQL itself
// runs on SQLite in the conformance suite (conformance_test.go) and against
// wrangler's D1 in the edge test (edge/test).

type step struct {
	query    string         // the exact statement expected
	args     []driver.Value // nil: not checked
	rows     [][]driver.Value
	affected int64
	err      error
}

type script struct {
	t     testing.TB
	mu    sync.Mutex
	steps []step
}

// openScript returns a DB that answers with steps and fails the test if
// any is left over at the end.
func openScript(t testing.TB, steps ...step) *sql.DB {
	t.Helper()
	s := &script{t: t, steps: steps}
	db := sql.OpenDB(connector{s})
	t.Cleanup(func() {
		db.Close()
		if len(s.steps) > 0 {
			t.Errorf("%d statements expected but not run; next: %.60q", len(s.steps), s.steps[0].query)
		}
	})
	return db
}

func (s *script) next(query string, args []driver.NamedValue) (step, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.steps) == 0 {
		s.t.Errorf("unexpected statement %.80q", query)
		return step{}, fmt.Errorf("unexpected statement")
	}
	st := s.steps[0]
	s.steps = s.steps[1:]
	if st.query != query {
		s.t.Errorf("statement:\n got %.80q\nwant %.80q", query, st.query)
		return step{}, fmt.Errorf("wrong statement")
	}
	if st.args != nil {
		got := make([]driver.Value, len(args))
		for i, a := range args {
			got[i] = a.Value
		}
		if !reflect.DeepEqual(got, st.args) {
			s.t.Errorf("args of %.40q:\n got %#v\nwant %#v", query, got, st.args)
		}
	}
	return st, st.err
}

type connector struct{ s *script }

func (c connector) Connect(context.Context) (driver.Conn, error) { return conn(c), nil }
func (c connector) Driver() driver.Driver                        { return nil }

type conn struct{ s *script }

func (c conn) Prepare(string) (driver.Stmt, error) { return nil, fmt.Errorf("prepare not scripted") }
func (c conn) Close() error                        { return nil }
func (c conn) Begin() (driver.Tx, error)           { return nil, fmt.Errorf("no transactions on D1") }

func (c conn) QueryContext(_ context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	st, err := c.s.next(query, args)
	if err != nil {
		return nil, err
	}
	return &rows{data: st.rows}, nil
}

func (c conn) ExecContext(_ context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	st, err := c.s.next(query, args)
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(st.affected), nil
}

type rows struct {
	data [][]driver.Value
	i    int
}

func (r *rows) Columns() []string {
	n := 1
	if len(r.data) > 0 {
		n = len(r.data[0])
	}
	cols := make([]string, n)
	for i := range cols {
		cols[i] = fmt.Sprint("c", i)
	}
	return cols
}

func (r *rows) Close() error { return nil }

func (r *rows) Next(dest []driver.Value) error {
	if r.i >= len(r.data) {
		return io.EOF
	}
	copy(dest, r.data[r.i])
	r.i++
	return nil
}
