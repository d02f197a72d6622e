package ai

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCacheForget(t *testing.T) {
	c := NewCache(10, 0, nil)
	s := Settings{Model: "m"}
	shared := NewCacheKey(s, "g1", "Where is my parcel 7731?", "")
	other := NewCacheKey(s, "g1", "Opening hours?", "")
	scoped := NewCacheKey(s, "g1", "and after that?", "fp-ann")
	c.Put(shared, "a1")
	c.Put(other, "a2")
	c.Put(scoped, "a3")
	// The question as the visitor typed it, in another case and spacing.
	if n := c.Forget([]string{"where is MY  parcel 7731"}, []string{"fp-ann"}); n != 2 {
		t.Fatalf("Forget dropped %d entries, want 2 (the question and the scoped answer)", n)
	}
	if _, ok := c.Get(shared); ok {
		t.Error("the answer keyed by the visitor's question survived Forget")
	}
	if _, ok := c.Get(scoped); ok {
		t.Error("the answer scoped to the visitor's session survived Forget")
	}
	if got, ok := c.Get(other); !ok || got != "a2" {
		t.Errorf("someone else's answer = %q, %v; want it kept", got, ok)
	}
	if n := c.Forget(nil, []string{""}); n != 0 {
		t.Errorf("an empty scope dropped %d shared answers", n)
	}
}

// What an erasure sends to the other nodes of a cluster: hashes that drop
// the same answers there after a trip through JSON, and not the words.
func TestCacheForgetHashed(t *testing.T) {
	c := NewCache(10, 0, nil)
	s := Settings{Model: "m"}
	shared := NewCacheKey(s, "g1", "Where is my parcel 7731?", "")
	scoped := NewCacheKey(s, "g1", "and after that?", "fp-ann")
	other := NewCacheKey(s, "g1", "Opening hours?", "")
	for _, k := range []CacheKey{shared, scoped, other} {
		c.Put(k, "answer")
	}
	f := ForgetKeys([]string{"where is MY  parcel 7731", ""}, []string{"fp-ann", ""})
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, word := range []string{"parcel", "7731", "fp-ann"} {
		if strings.Contains(string(data), word) {
			t.Errorf("the forget message %s carries %q", data, word)
		}
	}
	var got Forgotten
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Questions) != 1 || len(got.Scopes) != 1 {
		t.Errorf("forget message %s: want one question and one scope (empty ones left out)", data)
	}
	if n := c.ForgetHashed(got); n != 2 {
		t.Fatalf("ForgetHashed dropped %d entries, want 2", n)
	}
	if _, ok := c.Get(other); !ok {
		t.Error("someone else's answer was dropped")
	}
}
