package protocol

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DecodeObject decodes data, exactly one JSON object, into v (a pointer
// to a struct) by the same rules as the socket's frames: valid UTF-8, no
// duplicate key at any depth, keys matched exactly (no case folding)
// wherever the target is a struct, no unknown key, typed fields, nothing
// after the object. It is the decoder of every JSON request body the
// relay accepts (the HTTP visitor API, sign-in, the admin API). Errors are
// *Error with the catalogue's codes; it never panics.
func DecodeObject(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("protocol: DecodeObject needs a non-nil pointer, got %T", v)
	}
	if !utf8.Valid(data) {
		return Errorf(CodeBadUTF8, "body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return Errorf(CodeBadFrame, "body must be one JSON object")
	}
	w := walker{dec: dec, what: "body"}
	if err := w.object(rv.Type().Elem(), 1, ""); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return Errorf(CodeBadFrame, "trailing data after the JSON object")
	}
	return unmarshal(data, v)
}

// unmarshal fills v once the walker has vetted the shape; what is left to
// find are values of the wrong type.
func unmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "value"
			}
			return Errorf(CodeBadField, fmt.Sprintf("field %q must be %s", clip(field), jsonKind(te.Type)))
		}
		return Errorf(CodeBadFrame, "not valid JSON")
	}
	return nil
}

// walker reads one JSON value token by token, checking what encoding/json
// lets through: duplicate keys, nesting depth, and (where the Go type is
// known) keys that differ from a struct's only in case, or do not exist.
type walker struct {
	dec  *json.Decoder
	what string // "body", "message frame": named in unknown-field errors
	// keys, when set, collects the top-level keys and the top-level
	// "type" value (the frame decoder dispatches on it).
	keys *[]string
	typ  *string
}

// free stands for a value of any shape: a map's keys, an interface, raw
// JSON, a type with its own decoder.
var free reflect.Type

var (
	rawType         = reflect.TypeFor[json.RawMessage]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// shape drops pointers and turns types that decode themselves into free.
func shape(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t == rawType || t.Kind() == reflect.Interface ||
		reflect.PointerTo(t).Implements(unmarshalerType) {
		return free
	}
	return t
}

// object reads an object's members after its opening brace.
func (w *walker) object(t reflect.Type, depth int, path string) error {
	if depth > maxDepth {
		return Errorf(CodeBadFrame, "nested too deeply")
	}
	t = shape(t)
	var fields map[string]reflect.Type
	var elem reflect.Type
	switch {
	case t == free:
	case t.Kind() == reflect.Struct:
		fields = structFields(t)
	case t.Kind() == reflect.Map:
		elem = t.Elem()
	}
	seen := map[string]bool{}
	for {
		tok, err := w.dec.Token()
		if err != nil {
			return Errorf(CodeBadFrame, "not valid JSON")
		}
		if tok == json.Delim('}') {
			return nil
		}
		key, ok := tok.(string)
		if !ok {
			return Errorf(CodeBadFrame, "not valid JSON")
		}
		if seen[key] {
			return Errorf(CodeDuplicateKey, fmt.Sprintf("duplicate key %q%s", clip(key), inPath(path)))
		}
		seen[key] = true
		top := depth == 1 && w.keys != nil
		if top {
			*w.keys = append(*w.keys, key)
		}
		ft := elem
		if fields != nil {
			var known bool
			if ft, known = fields[key]; !known {
				return Errorf(CodeUnknownField, fmt.Sprintf("unknown field %q in %s", clip(key), where(w.what, path)))
			}
		}
		val, err := w.dec.Token()
		if err != nil {
			return Errorf(CodeBadFrame, "not valid JSON")
		}
		if top && key == "type" && w.typ != nil {
			s, ok := val.(string)
			if !ok {
				return Errorf(CodeBadField, `field "type" must be a string`)
			}
			*w.typ = s
		}
		if d, ok := val.(json.Delim); ok {
			if err := w.value(d, ft, depth+1, join(path, key)); err != nil {
				return err
			}
		}
	}
}

// value reads an object or array after its opening delimiter.
func (w *walker) value(open json.Delim, t reflect.Type, depth int, path string) error {
	if open == '{' {
		return w.object(t, depth, path)
	}
	if depth > maxDepth {
		return Errorf(CodeBadFrame, "nested too deeply")
	}
	t = shape(t)
	var elem reflect.Type
	if t != free && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	for i := 0; ; i++ {
		tok, err := w.dec.Token()
		if err != nil {
			return Errorf(CodeBadFrame, "not valid JSON")
		}
		if tok == json.Delim(']') {
			return nil
		}
		if d, ok := tok.(json.Delim); ok {
			if err := w.value(d, elem, depth+1, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	}
}

// structFields maps a struct's JSON keys, exactly as encoding/json writes
// them, to their types; fields of embedded structs are promoted.
func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if et := shape(ft); et != free && et.Kind() == reflect.Struct {
				for k, v := range structFields(et) {
					if _, dup := out[k]; !dup {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = ft
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func inPath(path string) string {
	if path == "" {
		return ""
	}
	return " in " + clip(path)
}

func where(what, path string) string {
	if path == "" {
		return what
	}
	return clip(path)
}

// jsonKind names the JSON a Go type wants, for error messages.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a valid value"
	}
	if reflect.PointerTo(t).Implements(textType) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative whole number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a valid value"
}
