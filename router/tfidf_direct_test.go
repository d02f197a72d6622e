//go:build !js

package router

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// TestFitTFIDFDirectMatchesNLP: the edge build's fitting without nlp gives
// exactly what nlp gives the relay: vocabulary, IDF and every row.
func TestFitTFIDFDirectMatchesNLP(t *testing.T) {
	sets := map[string][]string{
		"small": {"where is my order", "运费多少", "how much is shipping", "order status please", "退货", "the the the a of"},
		"one":   {"refund"},
		"empty": {"", "!!!", "where is it"},
	}
	for _, name := range []string{"shop_intents.json", "shopset_en.json", "shopset_zh.json"} {
		sets[name] = testdataTexts(t, name)
	}
	for name, docs := range sets {
		t.Run(name, func(t *testing.T) {
			wantV, wantRows, err := fitTFIDF(docs)
			if err != nil {
				t.Fatal(err)
			}
			v, rows, err := fitTFIDFDirect(docs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(v, wantV) {
				t.Errorf("vocab differs: %d ids (want %d), unseen %v/%v (want %v/%v)", len(v.ids), len(wantV.ids), v.unseenIDF, v.stopUnseenIDF, wantV.unseenIDF, wantV.stopUnseenIDF)
			}
			if len(rows) != len(wantRows) {
				t.Fatalf("%d rows, want %d", len(rows), len(wantRows))
			}
			for i := range rows {
				if !reflect.DeepEqual(rows[i], wantRows[i]) {
					t.Fatalf("row %d (%q):\n got %v\nwant %v", i, docs[i], rows[i], wantRows[i])
				}
			}
		})
	}
}

// testdataTexts is every string of a testdata JSON file: examples, answers
// and names alike, which is all the fitting needs.
func testdataTexts(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	if len(out) < 50 {
		t.Fatalf("%s: only %d texts", name, len(out))
	}
	return out
}
