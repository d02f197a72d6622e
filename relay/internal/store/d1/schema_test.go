package d1

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The schema is applied by wrangler and the queries run on D1, neither of
// which linux has: this checks the two agree on names, and that the
// constraints the store's guarantees rest on are there.

// readSchema is every migration, in the order wrangler applies them.
func readSchema(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v (%d files)", err, len(files))
	}
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
		all.WriteString("\n")
	}
	return all.String()
}

// tableColumns parses "CREATE TABLE name ( col TYPE …, … )" blocks and
// "ALTER TABLE name ADD COLUMN col …" statements.
func tableColumns(schema string) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	re := regexp.MustCompile(`(?s)CREATE TABLE (\w+) \((.*?)\n\)`)
	for _, m := range re.FindAllStringSubmatch(schema, -1) {
		cols := map[string]bool{}
		for _, line := range strings.Split(m[2], "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || strings.HasPrefix(f[0], "--") || f[0] == "PRIMARY" || f[0] == "UNIQUE" {
				continue
			}
			cols[f[0]] = true
		}
		out[m[1]] = cols
	}
	for _, m := range regexp.MustCompile(`ALTER TABLE (\w+) ADD COLUMN (\w+)`).FindAllStringSubmatch(schema, -1) {
		if out[m[1]] != nil {
			out[m[1]][m[2]] = true
		}
	}
	return out
}

func TestQueriesMatchSchema(t *testing.T) {
	tables := tableColumns(readSchema(t))
	for _, tc := range []struct {
		name, table, columns string
	}{
		{"conversations", "conversations", conversationColumns},
		{"messages", "messages", messageColumns},
		{"visitors", "visitors", visitorColumns + ", token_hash"},
		{"settings", "settings", "name, value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cols := tables[tc.table]
			if cols == nil {
				t.Fatalf("no table %s in the schema", tc.table)
			}
			for _, c := range strings.Split(tc.columns, ", ") {
				if !cols[c] {
					t.Errorf("column %s.%s used by the store is not in the schema", tc.table, c)
				}
			}
		})
	}
}

func TestSchemaGuarantees(t *testing.T) {
	schema := readSchema(t)
	for _, want := range []string{
		"PRIMARY KEY (conversation_id, seq)",    // no two messages share a seq
		"UNIQUE (conversation_id, client_id)",   // a client id is stored once (qAppend's ON CONFLICT target)
		"token_hash      TEXT NOT NULL UNIQUE",  // one visitor per token
		"AFTER INSERT ON messages",              // the conversation follows its messages atomically
		"last_seq     = max(last_seq, NEW.seq)", // …its newest seq
	} {
		if !strings.Contains(schema, want) {
			t.Errorf("schema lacks %q", want)
		}
	}
	if !strings.Contains(qAppend, "ON CONFLICT (conversation_id, client_id) DO NOTHING") {
		t.Error("qAppend must skip a stored client id without an error")
	}
}
