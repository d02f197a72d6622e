package admin_test

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
)

var csvHeader = []string{"conversation_id", "visitor_id", "status", "handler", "agent_id", "seq", "time", "from", "author", "text", "intent", "attachment", "rating", "tags"}

// The CSV export: every message as a row, text as the visitor wrote it
// (commas, quotes, newlines survive a CSV reader), formulas kept from
// running in a spreadsheet, a bad format refused.
func TestExportConversationsCSV(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	texts := []string{
		"first chat",
		"a, \"quoted\" line\nand a second one",
		"=HYPERLINK(\"https://evil.example/x\",\"click\")",
		"@SUM(1+1)",
	}
	v := newVisitor(t, r)
	for _, text := range texts {
		v.send(t, text)
	}
	other := newVisitor(t, r)
	other.send(t, "second chat")
	admin.must(200, "POST", "/v1/agent/conversations/"+v.conv+"/tags", map[string]any{"add": []string{"vip", "refund"}})

	res := admin.must(200, "GET", "/v1/admin/conversations/export?format=csv", nil)
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := res.header.Get("Content-Disposition"); !strings.Contains(cd, "kefu-conversations.csv") {
		t.Errorf("Content-Disposition %q", cd)
	}
	rows, err := csv.NewReader(bytes.NewReader(res.body)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, res.body)
	}
	if !slices.Equal(rows[0], csvHeader) {
		t.Fatalf("header %v", rows[0])
	}
	col := func(name string) int { return slices.Index(csvHeader, name) }
	got := map[string][]string{} // conversation → visitor texts in order
	for _, row := range rows[1:] {
		if len(row) != len(csvHeader) {
			t.Fatalf("row with %d cells: %v", len(row), row)
		}
		if tags := map[string]string{v.conv: "refund vip", other.conv: ""}[row[col("conversation_id")]]; row[col("tags")] != tags {
			t.Errorf("tags %q on a row of %s, want %q", row[col("tags")], row[col("conversation_id")], tags)
		}
		if row[col("from")] == "visitor" {
			got[row[col("conversation_id")]] = append(got[row[col("conversation_id")]], row[col("text")])
		}
	}
	want := []string{texts[0], texts[1], "'" + texts[2], "'" + texts[3]}
	if !slices.Equal(got[v.conv], want) {
		t.Errorf("visitor texts %q, want %q", got[v.conv], want)
	}
	if !slices.Equal(got[other.conv], []string{"second chat"}) {
		t.Errorf("other conversation %q", got[other.conv])
	}

	// The filters apply as for JSON; a bad format is refused.
	one := admin.must(200, "GET", "/v1/admin/conversations/export?format=csv&status=closed", nil)
	if rows, _ := csv.NewReader(bytes.NewReader(one.body)).ReadAll(); len(rows) != 1 {
		t.Errorf("closed only: %d rows, want the header alone", len(rows))
	}
	if res := admin.do("GET", "/v1/admin/conversations/export?format=xlsx", nil); res.status != 400 {
		t.Errorf("format=xlsx: %d %s", res.status, res.body)
	}
}
