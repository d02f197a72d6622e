package main

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/kefuhq/kefu/router"
)

// TestResultJSONMatchesMap holds the JSON classify hands to JSON.parse to
// the map it used to hand to js.ValueOf: the same keys and values.
func TestResultJSONMatchesMap(t *testing.T) {
	m, err := router.Fit(router.DefaultIntents(), router.Options{})
	if err != nil {
		t.Fatalf("Fit: %v", err)
	}
	results := []router.Result{
		{},
		{Intent: `a "quoted" \\ name`, Score: 1e-7, Confidence: 0.5, Matched: true, Answer: "line\nbreak\ttab\x00\x1f\u2028 é 运费 \U0001F600",
			Action: router.ActionAnswer, Skill: "x", Ranked: []router.Match{{Intent: "a", Score: 0.1}, {Intent: `"b"`, Score: 1}}},
		{Score: 0.3, Choices: []router.Choice{{Intent: "a", Question: "q?", Answer: "</script>"}, {Intent: "b"}}},
	}
	for _, text := range []string{"how long does shipping take?", "我想退货", "can I talk to a human", "what is the capital of peru", "where is my order", ""} {
		results = append(results, m.Classify(text))
	}
	for i, r := range results {
		b, ok := appendResultJSON(nil, r)
		if !ok {
			t.Fatalf("result %d: no JSON form", i)
		}
		var got, want any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("result %d: %v in %s", i, err, b)
		}
		wb, _ := json.Marshal(resultMap(r))
		if err := json.Unmarshal(wb, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("result %d:\n got %v\nwant %v", i, got, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1)} {
		if _, ok := appendResultJSON(nil, router.Result{Score: f}); ok {
			t.Errorf("score %v: got a JSON form, want none (it has no JSON number)", f)
		}
		if _, ok := appendResultJSON(nil, router.Result{Ranked: []router.Match{{Score: f}}}); ok {
			t.Errorf("ranked score %v: got a JSON form, want none", f)
		}
	}
}
