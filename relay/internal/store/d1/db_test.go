package d1

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// What a column becomes in each destination the store scans into: as
// database/sql's Scan made it before the store spoke to D1 without it.
func TestAssign(t *testing.T) {
	type kind string
	for _, tc := range []struct {
		name string
		src  any
		dest any  // a pointer to a zero value
		want any  // what dest points to after
		err  bool // assign fails
	}{
		{"text", "hi", new(string), "hi", false},
		{"blob as text", []byte("hi"), new(string), "hi", false},
		{"integer as text", int64(-7), new(string), "-7", false},
		{"real as text", 1.5, new(string), "1.5", false},
		{"NULL as text", nil, new(string), "", true},
		{"named text", "x", new(kind), kind("x"), false},
		{"NULL as named text", nil, new(kind), kind(""), true},
		{"integer", int64(math.MaxInt64), new(int64), int64(math.MaxInt64), false},
		{"integer from text", "42", new(int64), int64(42), false},
		{"integer from a whole real", 3.0, new(int64), int64(3), false},
		{"integer from a fraction", 1.5, new(int64), int64(0), true},
		{"integer from words", "many", new(int64), int64(0), true},
		{"NULL as integer", nil, new(int64), int64(0), true},
		{"int", int64(5), new(int), 5, false},
		{"int32 overflow", int64(math.MaxInt32) + 1, new(int32), int32(0), true},
		{"uint64", int64(9), new(uint64), uint64(9), false},
		{"negative uint64", int64(-1), new(uint64), uint64(0), true},
		{"NULL as uint64", nil, new(uint64), uint64(0), true},
		{"real", 2.25, new(float64), 2.25, false},
		{"real from integer", int64(2), new(float64), 2.0, false},
		{"bool 1", int64(1), new(bool), true, false},
		{"bool 0", int64(0), new(bool), false, false},
		{"bool 2", int64(2), new(bool), false, true},
		{"blob", []byte{0, 1}, new([]byte), []byte{0, 1}, false},
		{"text as blob", "{}", new([]byte), []byte("{}"), false},
		{"NULL as blob", nil, new([]byte), []byte(nil), false},
		{"nullString NULL", nil, new(nullString), nullString{}, false},
		{"nullString text", "q1", new(nullString), nullString{String: "q1", Valid: true}, false},
		{"any", int64(4), new(any), int64(4), false},
		{"not a pointer", "x", "", "", true},
		{"unsupported", "x", new(struct{}), struct{}{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := assign(tc.dest, tc.src)
			if (err != nil) != tc.err {
				t.Fatalf("assign(%T, %#v): error %v, want error %v", tc.dest, tc.src, err, tc.err)
			}
			if tc.err {
				return
			}
			if got := reflect.ValueOf(tc.dest).Elem().Interface(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("assign(%T, %#v) = %#v, want %#v", tc.dest, tc.src, got, tc.want)
			}
		})
	}
}

// A scanned blob is the scanner's own: changing it leaves the row alone.
func TestAssignCopiesBlobs(t *testing.T) {
	src := []byte("abc")
	var b []byte
	var a any
	if err := assign(&b, src); err != nil {
		t.Fatal(err)
	}
	if err := assign(&a, src); err != nil {
		t.Fatal(err)
	}
	b[0], a.([]byte)[1] = 'x', 'y'
	if string(src) != "abc" {
		t.Errorf("the row's blob changed to %q", src)
	}
}

func TestBindArgs(t *testing.T) {
	type tag string
	got, err := bindArgs([]any{nil, "s", store.StatusOpen, tag("t"), 3, int8(-2), uint64(7), uint32(1), 1.5, float32(0.5), true, false, []byte{1}, int64(9)})
	if err != nil {
		t.Fatal(err)
	}
	want := []any{nil, "s", "open", "t", int64(3), int64(-2), int64(7), int64(1), 1.5, 0.5, int64(1), int64(0), []byte{1}, int64(9)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("bindArgs:\n got %#v\nwant %#v", got, want)
	}
	for _, bad := range []any{uint64(math.MaxInt64) + 1, struct{}{}, []string{"a"}, &got} {
		if _, err := bindArgs([]any{"ok", bad}); err == nil || !strings.Contains(err.Error(), "argument 2") {
			t.Errorf("bindArgs(%T): error %v, want one naming argument 2", bad, err)
		}
	}
}

// A row's Scan: no row, an error from the query, the wrong number of
// destinations, and a column that does not fit.
func TestRowScan(t *testing.T) {
	queryFails := errors.New("D1_ERROR: network")
	s := New(openScript(t,
		step{query: "none"},
		step{query: "fails", err: queryFails},
		step{query: "two", rows: [][]any{{int64(1), "a"}, {int64(2), "b"}}},
		step{query: "two", rows: [][]any{{int64(1), "a"}}},
		step{query: "null", rows: [][]any{{nil}}},
		step{query: "bad arg"},
	), Options{})
	ctx := context.Background()
	var (
		n    int64
		text string
	)
	if err := s.queryRow(ctx, "none").Scan(&n); !errors.Is(err, errNoRows) {
		t.Errorf("no rows: %v, want errNoRows", err)
	}
	if err := s.queryRow(ctx, "fails").Scan(&n); !errors.Is(err, queryFails) {
		t.Errorf("failing query: %v, want its error", err)
	}
	if err := s.queryRow(ctx, "two").Scan(&n, &text); err != nil || n != 1 || text != "a" {
		t.Errorf("first of two rows: %d %q %v, want 1 a", n, text, err)
	}
	if err := s.queryRow(ctx, "two").Scan(&n); err == nil {
		t.Error("two columns into one destination: no error")
	}
	if err := s.queryRow(ctx, "null").Scan(&text); err == nil {
		t.Error("NULL into a string: no error")
	}
	// An argument that cannot be bound fails before the statement runs:
	// the script's last step stays unrun, so end it by hand.
	if err := s.queryRow(ctx, "bad arg", struct{}{}).Scan(&n); err == nil || !strings.Contains(err.Error(), "argument 1") {
		t.Errorf("unbindable argument: %v", err)
	}
	if _, err := s.query(ctx, "bad arg"); err != nil {
		t.Fatal(err)
	}
}

func TestRowsScanBeforeNext(t *testing.T) {
	r := &rows{data: [][]any{{int64(1)}}}
	var n int64
	if err := r.Scan(&n); err == nil {
		t.Error("Scan before Next: no error")
	}
	if !r.Next() || r.Scan(&n) != nil || n != 1 || r.Next() {
		t.Errorf("one row: got %d", n)
	}
}
