package d1

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
)

// A scripted DB: each test lists the statements the store
// must run, in order, with what D1 answers. It checks the store's own
// logic (retries, duplicates, compare-and-set) step by step; the SQL itself
// runs on SQLite in the conformance suite (conformance_test.go) and against
// wrangler's D1 in the edge test (edge/test).

type step struct {
	query    string // the exact statement expected
	args     []any  // nil: not checked
	rows     [][]any
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
func openScript(t testing.TB, steps ...step) DB {
	t.Helper()
	s := &script{t: t, steps: steps}
	t.Cleanup(func() {
		if len(s.steps) > 0 {
			t.Errorf("%d statements expected but not run; next: %.60q", len(s.steps), s.steps[0].query)
		}
	})
	return s
}

func (s *script) next(query string, args []any) (step, error) {
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
		if !reflect.DeepEqual(args, st.args) {
			s.t.Errorf("args of %.40q:\n got %#v\nwant %#v", query, args, st.args)
		}
	}
	return st, st.err
}

func (s *script) Query(_ context.Context, query string, args ...any) ([][]any, error) {
	st, err := s.next(query, args)
	if err != nil {
		return nil, err
	}
	return st.rows, nil
}

func (s *script) Exec(_ context.Context, query string, args ...any) (int64, error) {
	st, err := s.next(query, args)
	if err != nil {
		return 0, err
	}
	return st.affected, nil
}
