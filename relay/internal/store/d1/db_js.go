//go:build js && wasm

package d1

import (
	"context"
	"errors"
	"fmt"
	"math"
	"syscall/js"
)

// jsDB is the Worker's D1 binding as the store's DB: prepare, bind, then
// run (Exec) or raw (Query), each awaited. It replaces syumai/workers'
// database/sql driver, which did the same through database/sql: that
// package and its conversions were most of the store's weight in the
// edge build (docs/edge.md, Size).
type jsDB struct {
	db js.Value
}

// Exec runs query and returns meta.changes, the rows it changed.
func (d jsDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := d.run(ctx, query, args, "run")
	if err != nil {
		return 0, err
	}
	changes := res.Get("meta").Get("changes")
	if changes.Type() != js.TypeNumber {
		return 0, errors.New("d1: the result has no meta.changes")
	}
	return int64(changes.Float()), nil
}

// Query runs query and returns its rows: raw() gives them as arrays of
// column values, in the statement's column order.
func (d jsDB) Query(ctx context.Context, query string, args ...any) ([][]any, error) {
	res, err := d.run(ctx, query, args, "raw")
	if err != nil {
		return nil, err
	}
	out := make([][]any, res.Length())
	for i := range out {
		r := res.Index(i)
		cols := make([]any, r.Length())
		for j := range cols {
			if cols[j], err = fromJS(r.Index(j)); err != nil {
				return nil, fmt.Errorf("d1: row %d column %d: %w", i, j, err)
			}
		}
		out[i] = cols
	}
	return out, nil
}

// run prepares query, binds args and awaits method's promise. A call the
// binding refuses at once (it throws rather than rejects) is an error too.
func (d jsDB) run(ctx context.Context, query string, args []any, method string) (v js.Value, err error) {
	if err := ctx.Err(); err != nil {
		return js.Value{}, err
	}
	defer func() {
		if p := recover(); p != nil {
			jsErr, ok := p.(js.Error)
			if !ok {
				panic(p)
			}
			v, err = js.Value{}, fmt.Errorf("d1: %s", jsErr.Error())
		}
	}()
	bound := make([]any, len(args))
	for i, a := range args {
		bound[i] = toJS(a)
	}
	return await(d.db.Call("prepare", query).Call("bind", bound...).Call(method))
}

// toJS is an argument (bindArgs' types) as D1 takes it: a []byte as a
// Uint8Array (a BLOB), the rest as JavaScript's null, number or string.
func toJS(a any) any {
	if b, ok := a.([]byte); ok {
		u := js.Global().Get("Uint8Array").New(len(b))
		js.CopyBytesToJS(u, b)
		return u
	}
	return a
}

// fromJS is a column as the store reads it: D1 gives null, a number, a
// string, or a BLOB as an ArrayBuffer or an array of bytes. A whole
// number becomes an int64, as syumai/workers' driver made it.
func fromJS(v js.Value) (any, error) {
	switch v.Type() {
	case js.TypeNull:
		return nil, nil
	case js.TypeNumber:
		f := v.Float()
		if f == math.Trunc(f) && !math.IsInf(f, 0) {
			return int64(f), nil
		}
		return f, nil
	case js.TypeString:
		return v.String(), nil
	case js.TypeObject:
		u := js.Global().Get("Uint8Array").New(v)
		b := make([]byte, u.Length())
		js.CopyBytesToGo(b, u)
		return b, nil
	}
	return nil, fmt.Errorf("unexpected %s from D1", v.Type())
}

// await waits for p to settle. A rejection becomes an error carrying the
// reason's text (D1's "D1_ERROR: UNIQUE constraint failed: …", which
// seqConflict and missingSchema read).
func await(p js.Value) (js.Value, error) {
	type settled struct {
		v   js.Value
		err error
	}
	ch := make(chan settled, 1)
	ok := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- settled{v: arg0(args)}
		return nil
	})
	defer ok.Release()
	fail := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- settled{err: errors.New(js.Global().Call("String", arg0(args)).String())}
		return nil
	})
	defer fail.Release()
	p.Call("then", ok, fail)
	s := <-ch
	return s.v, s.err
}

func arg0(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}
