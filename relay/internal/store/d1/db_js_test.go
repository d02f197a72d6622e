//go:build js && wasm

package d1

import (
	"context"
	"math"
	"reflect"
	"strings"
	"syscall/js"
	"testing"
)

// jsEval returns the value of a JavaScript expression.
func jsEval(t *testing.T, expr string) js.Value {
	t.Helper()
	return js.Global().Get("Function").New("return (" + expr + ");").Invoke()
}

// Columns as D1's raw() gives them, as the store reads them.
func TestFromJS(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want any
	}{
		{"null", nil},
		{"42", int64(42)},
		{"-7", int64(-7)},
		{"2 ** 53", int64(1 << 53)},
		{"1.5", 1.5},
		{"'日本'", "日本"},
		{"''", ""},
		{"new Uint8Array([0, 1, 255]).buffer", []byte{0, 1, 255}},
		{"[0, 1, 255]", []byte{0, 1, 255}},
	} {
		got, err := fromJS(jsEval(t, tc.expr))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("fromJS(%s) = %#v, %v; want %#v", tc.expr, got, err, tc.want)
		}
	}
	if got, err := fromJS(jsEval(t, "NaN")); err != nil || !math.IsNaN(got.(float64)) {
		t.Errorf("fromJS(NaN) = %#v, %v", got, err)
	}
	for _, bad := range []string{"true", "undefined"} {
		if got, err := fromJS(jsEval(t, bad)); err == nil {
			t.Errorf("fromJS(%s) = %#v, want an error", bad, got)
		}
	}
}

// A binding that answers like D1, written in JavaScript: the promises, the
// thrown error and the rejection are the runtime's own.
const fakeD1 = `{
	prepare(q) {
		if (q === 'throws') throw new Error('D1_ERROR: near "throws": syntax error');
		return {
			bind(...args) {
				globalThis.bound = args;
				return {
					run: async () => q === 'rejects' ? Promise.reject(new Error('D1_ERROR: UNIQUE constraint failed: messages.conversation_id, messages.seq: SQLITE_CONSTRAINT')) : ({ meta: q === 'nometa' ? {} : { changes: 2 } }),
					raw: async () => q === 'rejects' ? Promise.reject('no such table: settings') : [[1, 'a', null, new Uint8Array([7]).buffer], [2.5, '', 0, [8]]],
				};
			},
		};
	},
}`

func TestJSDB(t *testing.T) {
	ctx := context.Background()
	d := jsDB{db: jsEval(t, fakeD1)}

	rows, err := d.Query(ctx, "select", int64(3), "s", nil, []byte{1, 2}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{{int64(1), "a", nil, []byte{7}}, {2.5, "", int64(0), []byte{8}}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows:\n got %#v\nwant %#v", rows, want)
	}
	bound := js.Global().Get("bound")
	if n := bound.Length(); n != 5 {
		t.Fatalf("bound %d arguments, want 5", n)
	}
	if bound.Index(0).Float() != 3 || bound.Index(1).String() != "s" || !bound.Index(2).IsNull() ||
		!bound.Index(3).InstanceOf(js.Global().Get("Uint8Array")) || bound.Index(3).Index(1).Int() != 2 || bound.Index(4).Float() != 0.5 {
		t.Errorf("bound arguments: %s", js.Global().Get("JSON").Call("stringify", bound).String())
	}

	if n, err := d.Exec(ctx, "update"); err != nil || n != 2 {
		t.Errorf("Exec = %d, %v; want 2 changes", n, err)
	}
	if _, err := d.Exec(ctx, "nometa"); err == nil {
		t.Error("Exec without meta.changes: no error")
	}
	// The store reads these words: seqConflict retries the first, and
	// missingSchema tells the operator to apply the migrations.
	if _, err := d.Exec(ctx, "rejects"); !seqConflict(err) {
		t.Errorf("rejected run: %v, want a seq conflict", err)
	}
	if _, err := d.Query(ctx, "rejects"); !missingSchema(err) {
		t.Errorf("rejected raw: %v, want the missing schema", err)
	}
	if _, err := d.Query(ctx, "throws"); err == nil || !strings.Contains(err.Error(), "syntax error") {
		t.Errorf("thrown at prepare: %v, want its message", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Exec(cancelled, "update"); err == nil {
		t.Error("Exec on a cancelled context: no error")
	}
}
