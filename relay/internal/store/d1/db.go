package d1

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
)

// DB runs the store's statements, one at a time: D1's binding on Workers
// (open_js.go), SQLite in tests (d1test). The store speaks to it without
// database/sql, whose driver machinery would be most of what the edge
// build's database code weighs; D1 hands a query's rows back all at once
// anyway.
//
// Arguments reach it as nil, int64, float64, string or []byte (bindArgs);
// a query's columns must come back as the same types.
type DB interface {
	// Exec runs a statement that returns no rows and reports how many
	// rows it changed (an implementation that cannot tell fails).
	Exec(ctx context.Context, query string, args ...any) (changes int64, err error)
	// Query runs a statement and returns all its rows.
	Query(ctx context.Context, query string, args ...any) ([][]any, error)
}

// errNoRows is what a row's Scan returns when its query returned none.
var errNoRows = errors.New("d1: no rows in result set")

// exec runs a statement on s.db with its arguments bound.
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	bound, err := bindArgs(args)
	if err != nil {
		return 0, err
	}
	return s.db.Exec(ctx, query, bound...)
}

// query runs a statement on s.db with its arguments bound.
func (s *Store) query(ctx context.Context, query string, args ...any) (*rows, error) {
	bound, err := bindArgs(args)
	if err != nil {
		return nil, err
	}
	data, err := s.db.Query(ctx, query, bound...)
	if err != nil {
		return nil, err
	}
	return &rows{data: data}, nil
}

// queryRow is query for one row: its error, if any, comes from Scan.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) row {
	r, err := s.query(ctx, query, args...)
	if err != nil {
		return row{err: err}
	}
	if len(r.data) == 0 {
		return row{err: errNoRows}
	}
	return row{cols: r.data[0]}
}

// row is the first row of a query, or why there is none.
type row struct {
	cols []any
	err  error
}

// Scan copies the row's columns into dest (see assign).
func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return scanCols(r.cols, dest)
}

// rows iterates over a query's rows: Next, then Scan each.
type rows struct {
	data [][]any
	cur  []any
}

// Next moves to the next row and reports whether there is one.
func (r *rows) Next() bool {
	if len(r.data) == 0 {
		r.cur = nil
		return false
	}
	r.cur, r.data = r.data[0], r.data[1:]
	return true
}

// Scan copies the current row's columns into dest.
func (r *rows) Scan(dest ...any) error {
	if r.cur == nil {
		return errors.New("d1: Scan called without a row (Next)")
	}
	return scanCols(r.cur, dest)
}

// Err is nil: the rows were all read before the first Next. It keeps the
// loops in the shape database/sql taught everyone.
func (r *rows) Err() error { return nil }

// Close does nothing, for the same reason.
func (r *rows) Close() error { return nil }

func scanCols(cols, dest []any) error {
	if len(cols) != len(dest) {
		return fmt.Errorf("d1: %d columns, %d destinations in Scan", len(cols), len(dest))
	}
	for i, d := range dest {
		if err := assign(d, cols[i]); err != nil {
			return fmt.Errorf("d1: Scan column %d: %w", i, err)
		}
	}
	return nil
}

// nullString is a TEXT column that may be NULL (a message's client id).
type nullString struct {
	String string
	Valid  bool
}

// assign stores a column (nil, int64, float64, string or []byte) in dest,
// a pointer, converting as database/sql's Scan does for the kinds the
// store reads: strings and integers of any named type, []byte, float64,
// bool, any and nullString. NULL fits only *[]byte (nil), *any and
// *nullString; an integer must fit its destination.
func assign(dest, src any) error {
	switch d := dest.(type) {
	case *string:
		if src == nil {
			return errors.New("NULL into a string")
		}
		*d = asString(src)
		return nil
	case *int64:
		n, err := asInt(src, 64)
		*d = n
		return err
	case *[]byte:
		switch s := src.(type) {
		case nil:
			*d = nil
		case []byte:
			*d = append([]byte{}, s...)
		default:
			*d = []byte(asString(s))
		}
		return nil
	case *nullString:
		d.Valid = src != nil
		d.String = ""
		if src != nil {
			d.String = asString(src)
		}
		return nil
	case *any:
		if b, ok := src.([]byte); ok {
			src = append([]byte{}, b...)
		}
		*d = src
		return nil
	}
	v := reflect.ValueOf(dest)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("destination %T is not a non-nil pointer", dest)
	}
	e := v.Elem()
	if src == nil {
		return fmt.Errorf("NULL into %s", e.Type())
	}
	switch e.Kind() {
	case reflect.String:
		e.SetString(asString(src))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := asInt(src, e.Type().Bits())
		if err != nil {
			return err
		}
		e.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := asUint(src, e.Type().Bits())
		if err != nil {
			return err
		}
		e.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(asString(src), e.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q into %s: %w", asString(src), e.Type(), err)
		}
		e.SetFloat(f)
	case reflect.Bool:
		n, err := asInt(src, 64)
		if err != nil || (n != 0 && n != 1) {
			return fmt.Errorf("%q into bool: not 0 or 1", asString(src))
		}
		e.SetBool(n == 1)
	default:
		return fmt.Errorf("unsupported destination %T", dest)
	}
	return nil
}

// asString is a column as text; numbers in their shortest decimal form.
func asString(src any) string {
	switch s := src.(type) {
	case string:
		return s
	case []byte:
		return string(s)
	case int64:
		return strconv.FormatInt(s, 10)
	case float64:
		return strconv.FormatFloat(s, 'g', -1, 64)
	}
	return fmt.Sprint(src)
}

func asInt(src any, bits int) (int64, error) {
	if n, ok := src.(int64); ok && bits == 64 {
		return n, nil
	}
	if src == nil {
		return 0, errors.New("NULL into an integer")
	}
	n, err := strconv.ParseInt(asString(src), 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%q into int%d: %w", asString(src), bits, err)
	}
	return n, nil
}

func asUint(src any, bits int) (uint64, error) {
	n, err := strconv.ParseUint(asString(src), 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%q into uint%d: %w", asString(src), bits, err)
	}
	return n, nil
}

// bindArgs converts a statement's arguments to what DB takes: nil, int64,
// float64, string or []byte. Named types (store.Status) give their
// underlying value and a bool 1 or 0, as database/sql's default converter
// and SQLite store them; an unsigned integer must fit an int64.
func bindArgs(args []any) ([]any, error) {
	out := make([]any, len(args))
	for i, a := range args {
		v, err := bindArg(a)
		if err != nil {
			return nil, fmt.Errorf("d1: argument %d: %w", i+1, err)
		}
		out[i] = v
	}
	return out, nil
}

func bindArg(a any) (any, error) {
	switch v := a.(type) {
	case nil, int64, float64, string, []byte:
		return v, nil
	}
	r := reflect.ValueOf(a)
	switch r.Kind() {
	case reflect.String:
		return r.String(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return r.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := r.Uint()
		if u > math.MaxInt64 {
			return nil, fmt.Errorf("%d does not fit an int64", u)
		}
		return int64(u), nil
	case reflect.Float32, reflect.Float64:
		return r.Float(), nil
	case reflect.Bool:
		if r.Bool() {
			return int64(1), nil
		}
		return int64(0), nil
	case reflect.Slice:
		if r.Type().Elem().Kind() == reflect.Uint8 {
			return r.Bytes(), nil
		}
	}
	return nil, fmt.Errorf("unsupported type %T", a)
}
