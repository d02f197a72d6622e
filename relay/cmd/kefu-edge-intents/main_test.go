package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu/router"
)

// intentsFile is an export with n intents of 400 examples each.
func intentsFile(t *testing.T, answer string, n int) string {
	t.Helper()
	var list []map[string]any
	for k := range n {
		ex := make([]string, 400)
		for i := range ex {
			ex[i] = fmt.Sprintf("where is my parcel number %d %d", k, i)
		}
		list = append(list, map[string]any{"name": fmt.Sprint("tracking", k), "examples": ex, "answer": answer})
	}
	b, err := json.Marshal(map[string]any{"intents": list})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIntentsSQL(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantErr    string
		wantChunks int // UPDATE … || statements
		contains   string
	}{
		{name: "small file, one insert", in: intentsFile(t, "Track it at example.com/track", 1), wantChunks: 0, contains: `"version":1795500000123`},
		{name: "quotes are escaped", in: intentsFile(t, "It's on its way", 1), contains: "It''s on its way"},
		{name: "big file in pieces", in: intentsFile(t, "ok", 10), wantChunks: 2},
		{name: "invalid intents refused", in: `{"intents":[{"name":"x","examples":[],"answer":"a"}]}`, wantErr: "example"},
		{name: "wrong shape refused", in: `{"intent":[]}`, wantErr: `want {"intents"`},
		{name: "newline in an example", in: `{"intents":[{"name":"x","examples":["a\nb"],"answer":"c"}]}`, contains: `"examples":["a b"]`},
		{name: "no intents refused", in: `{"intents":[]}`, wantErr: "intent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sql, _, err := intentsSQL(strings.NewReader(tc.in), 1795500000123)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Count(sql, "WHERE name = 'intents.import';\n") - 2; got != tc.wantChunks {
				t.Errorf("%d appended pieces, want %d", got, tc.wantChunks)
			}
			for _, stmt := range strings.Split(strings.TrimSpace(sql), ";\n") {
				if len(stmt) > 100_000 {
					t.Errorf("a statement of %d bytes: over D1's 100 KB limit", len(stmt))
				}
			}
			if !strings.Contains(sql, tc.contains) {
				t.Errorf("SQL lacks %q", tc.contains)
			}
			if !strings.HasSuffix(sql, "DELETE FROM settings WHERE name = 'intents.import';\n") {
				t.Error("the staging row is not removed at the end")
			}
		})
	}
}

func TestSplitKeepsCharacters(t *testing.T) {
	s := strings.Repeat("发货", 100) // 3 bytes each
	for _, n := range []int{1, 2, 4, 5, 7, 64} {
		parts := split(s, n)
		if strings.Join(parts, "") != s {
			t.Fatalf("n=%d: pieces do not add up", n)
		}
		for _, p := range parts {
			if !utf8.ValidString(p) || len(p) > max(n, 3) {
				t.Errorf("n=%d: piece %q (%d bytes)", n, p, len(p))
			}
		}
	}
}

func TestRunUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	now := func() time.Time { return time.UnixMilli(1) }
	if code := run([]string{"a", "b"}, nil, &out, &errOut, now); code != 2 {
		t.Errorf("two files: exit %d, want 2", code)
	}
	if code := run(nil, strings.NewReader(intentsFile(t, "x", 1)), &out, &errOut, now); code != 0 || !strings.Contains(out.String(), "INSERT INTO settings") {
		t.Errorf("stdin: exit %d, output %q, stderr %q", code, out.String(), errOut.String())
	}
	errOut.Reset()
	file := "{\"intents\": [\n{\"name\": \"a\", \"examples\": [\"hi there\"], \"answer\": \"b\"},\n{\"name\": \"c\", \"examples\": [\"x\"]}]}"
	if code := run(nil, strings.NewReader(file), &out, &errOut, now); code != 0 || !strings.Contains(errOut.String(), `stdin: line 3: intent "c" skipped: action answer needs an answer`) {
		t.Errorf("a skipped intent: exit %d, stderr %q", code, errOut.String())
	}
}

// The model is fitted here and stored under the intents' version, so the
// Worker decodes it instead of fitting it.
func TestIntentsSQLCarriesTheModel(t *testing.T) {
	const version = 1795500000123
	sql, _, err := intentsSQL(strings.NewReader(intentsFile(t, "ok", 10)), version)
	if err != nil {
		t.Fatal(err)
	}
	var hexModel strings.Builder
	for _, stmt := range strings.Split(sql, ";\n") {
		if !strings.Contains(stmt, "'intents.model.import'") {
			continue
		}
		if _, v, ok := strings.Cut(stmt, "VALUES ('intents.model.import', '"); ok {
			hexModel.WriteString(strings.TrimSuffix(v, "')"))
		} else if _, v, ok := strings.Cut(stmt, "value = value || '"); ok {
			hexModel.WriteString(strings.TrimSuffix(v, "' WHERE name = 'intents.model.import'"))
		}
	}
	raw, err := hex.DecodeString(hexModel.String())
	if err != nil {
		t.Fatalf("model hex: %v", err)
	}
	if len(raw) < 8 || binary.BigEndian.Uint64(raw) != version {
		t.Fatalf("the model is not stored under the intents' version (%d bytes)", len(raw))
	}
	m, err := router.Load(raw[8:])
	if err != nil {
		t.Fatalf("the stored model does not load: %v", err)
	}
	if !m.Current() {
		t.Error("the stored model is of an older format: the Worker would refit it")
	}
	if !strings.Contains(sql, "SELECT 'intents.model', unhex(value)") {
		t.Error("the model is not moved into place")
	}
	if strings.Index(sql, "'intents.model', unhex") > strings.Index(sql, "SELECT 'intents', CAST") {
		t.Error("the intents land before their model")
	}
}

// --default-model prints the default intents' model, which loads and
// classifies as they do.
func TestRunDefaultModel(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"--default-model"}, nil, &out, &errOut, time.Now); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("not base64: %v", err)
	}
	m, err := router.Load(raw)
	if err != nil || !m.Current() {
		t.Fatalf("load: %v", err)
	}
	if got := m.Classify("how long does shipping take?").Intent; got != "shipping" {
		t.Errorf("classify: %q, want shipping", got)
	}
}
