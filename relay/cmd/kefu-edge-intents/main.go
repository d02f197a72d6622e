// Command kefu-edge-intents turns an intents file (the admin page's export,
// {"intents":[…]}) into SQL that puts it in the edge build's D1 database:
//
//	go run ./relay/cmd/kefu-edge-intents intents.json > intents.sql
//	cd edge && npx wrangler d1 execute kefu --remote --file ../intents.sql
//
// The intents are read and validated here as the admin page's import does;
// problems are reported on stderr by line. The model is fitted here, natively,
// and stored beside them: the Worker only decodes it (fitting costs CPU a
// Worker is billed and limited for; docs/edge.md).
//
//	go run ./relay/cmd/kefu-edge-intents --default-model
//
// prints the default intents' model, fitted, in base64: make edge builds it
// into the Worker, which seeds an empty database with it.
package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/intents"
	"github.com/kefuhq/kefu/router"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, time.Now))
}

// run is the command; 0 done, 1 bad input, 2 bad usage.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, now func() time.Time) int {
	if len(args) == 1 && args[0] == "--default-model" {
		model, err := defaultModel()
		if err != nil {
			fmt.Fprintln(stderr, "kefu-edge-intents:", err)
			return 1
		}
		fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(model))
		return 0
	}
	if len(args) > 1 || (len(args) == 1 && strings.HasPrefix(args[0], "-")) {
		fmt.Fprintln(stderr, "usage: kefu-edge-intents [intents.json] > intents.sql  (reads stdin without a file)")
		fmt.Fprintln(stderr, "       kefu-edge-intents --default-model  (the default intents' model, base64, for make edge)")
		return 2
	}
	in := stdin
	name := "stdin"
	if len(args) == 1 {
		f, err := os.Open(args[0])
		if err != nil {
			fmt.Fprintln(stderr, "kefu-edge-intents:", err)
			return 1
		}
		defer f.Close()
		in, name = f, args[0]
	}
	sql, problems, err := intentsSQL(in, now().UnixMilli())
	for _, p := range problems {
		fmt.Fprintf(stderr, "kefu-edge-intents: %s: %s\n", name, p)
	}
	if err != nil {
		fmt.Fprintf(stderr, "kefu-edge-intents: %s: %v\n", name, err)
		return 1
	}
	fmt.Fprintf(stdout, "-- Kefu intents from %s, for the edge's D1 (kefu-edge-intents).\n%s", name, sql)
	return 0
}

// defaultModel is the default intents' model, fitted and serialised.
func defaultModel() ([]byte, error) {
	m, err := router.Fit(router.DefaultIntents(), router.Options{})
	if err != nil {
		return nil, fmt.Errorf("fit the default intents: %w", err)
	}
	return m.MarshalBinary()
}

// chunkBytes keeps each statement well under D1's 100 KB statement limit.
const chunkBytes = 60 << 10

// intentsSQL reads an intents file as the admin page's import does
// (whitespace normalised, problems reported by line, what is valid kept)
// and returns statements that store it as the "intents" settings document
// the relay's intents package reads, under a new version, with the model
// fitted from it under the same version (the intents package's
// "intents.model": version ‖ model). A big document is written in pieces to
// a staging row, then moved in one statement, so the edge never sees half
// of it; the model first, so a request between the two sees the old
// intents (without a model of their version: for that moment they classify
// nothing, as the Worker fits none), never new intents without theirs.
func intentsSQL(r io.Reader, version int64) (string, []intents.Problem, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return "", nil, fmt.Errorf("read intents: %w", err)
	}
	list, problems, err := intents.ReadFile(data)
	if err != nil {
		return "", problems, err
	}
	doc, err := json.Marshal(struct {
		Version int64           `json:"version"`
		Intents []router.Intent `json:"intents"`
	}{version, list})
	if err != nil {
		return "", problems, fmt.Errorf("encode intents: %w", err)
	}
	m, err := router.Fit(list, router.Options{})
	if err != nil {
		return "", problems, fmt.Errorf("fit the model: %w", err)
	}
	model, err := m.MarshalBinary()
	if err != nil {
		return "", problems, fmt.Errorf("encode the model: %w", err)
	}
	model = append(binary.BigEndian.AppendUint64(nil, uint64(version)), model...)
	var b strings.Builder
	// Hex text in the staging row (text concatenates safely), bytes in the
	// real one (unhex, SQLite 3.41+).
	b.WriteString("DELETE FROM settings WHERE name = 'intents.model.import';\n")
	for i, part := range split(hex.EncodeToString(model), chunkBytes) {
		if i == 0 {
			fmt.Fprintf(&b, "INSERT INTO settings (name, value) VALUES ('intents.model.import', '%s');\n", part)
		} else {
			fmt.Fprintf(&b, "UPDATE settings SET value = value || '%s' WHERE name = 'intents.model.import';\n", part)
		}
	}
	b.WriteString("INSERT INTO settings (name, value) SELECT 'intents.model', unhex(value) FROM settings WHERE name = 'intents.model.import' ON CONFLICT (name) DO UPDATE SET value = excluded.value;\n")
	b.WriteString("DELETE FROM settings WHERE name = 'intents.model.import';\n")
	b.WriteString("DELETE FROM settings WHERE name = 'intents.import';\n")
	for i, part := range split(string(doc), chunkBytes) {
		if i == 0 {
			fmt.Fprintf(&b, "INSERT INTO settings (name, value) VALUES ('intents.import', %s);\n", quote(part))
		} else {
			fmt.Fprintf(&b, "UPDATE settings SET value = value || %s WHERE name = 'intents.import';\n", quote(part))
		}
	}
	b.WriteString("INSERT INTO settings (name, value) SELECT 'intents', CAST(value AS BLOB) FROM settings WHERE name = 'intents.import' ON CONFLICT (name) DO UPDATE SET value = excluded.value;\n")
	b.WriteString("DELETE FROM settings WHERE name = 'intents.import';\n")
	return b.String(), problems, nil
}

// split cuts s into pieces of at most n bytes, never inside a character.
func split(s string, n int) []string {
	var out []string
	for len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if cut == 0 { // n is shorter than the first character: take it whole
			_, cut = utf8.DecodeRuneInString(s)
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return append(out, s)
}

// quote is an SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
