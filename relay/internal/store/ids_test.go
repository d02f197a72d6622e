package store

import (
	"regexp"
	"sort"
	"testing"
	"time"
)

// idShape is what every id reader accepts (mail threading, the console's
// links, the stores' keys): 16 characters of idEncoding's alphabet.
var idShape = regexp.MustCompile(`^[a-z2-7]{16}$`)

func TestNewTimeIDSortsByTime(t *testing.T) {
	at := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 2000 {
		id := NewTimeID(at.Add(time.Duration(i) * 5 * time.Millisecond))
		if !idShape.MatchString(id) {
			t.Fatalf("id %q: want 16 characters of [a-z2-7]", id)
		}
		ids = append(ids, id)
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("ids made 5 ms apart do not sort by time")
	}
	// Years apart, across the 5-bit digits' carries.
	for _, pair := range [][2]time.Time{
		{at, at.AddDate(1, 0, 0)},
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2160, 1, 1, 0, 0, 0, 0, time.UTC)},
		{at.Add(-4 * time.Millisecond), at},
	} {
		a, b := NewTimeID(pair[0]), NewTimeID(pair[1])
		if a[:8] >= b[:8] {
			t.Errorf("%v → %s, %v → %s: want the later id's time part to sort after", pair[0], a, pair[1], b)
		}
	}
}

func TestNewTimeIDUnique(t *testing.T) {
	// The same tick: the random half alone keeps them apart. With its 40
	// bits, n ids of one tick share one with a chance of about
	// n²/2^41: 10 000 clash once in 22 000 runs (100 000 did once in
	// 220, and failed CI), and a random half of 24 bits or less would
	// clash in 19 runs of 20.
	const n = 10000
	at := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	for range n {
		id := NewTimeID(at)
		if seen[id] {
			t.Fatalf("id %s made twice", id)
		}
		seen[id] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct ids of %d", len(seen), n)
	}
}

func TestNewVisitorIDs(t *testing.T) {
	at := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	v := NewVisitor("fp", at, []Fill{func(v *Visitor) { v.ID, v.Lang = "chosen", "de" }})
	if v.ID == "chosen" || !idShape.MatchString(v.ID) || !idShape.MatchString(v.ConversationID) || v.ID == v.ConversationID {
		t.Fatalf("ids %q, %q: want two distinct time-ordered ids the fill cannot choose", v.ID, v.ConversationID)
	}
	later := NewVisitor("fp", at.Add(time.Second), nil)
	if later.ID <= v.ID || later.ConversationID <= v.ConversationID {
		t.Fatalf("a visitor made a second later has ids %s, %s, not after %s, %s", later.ID, later.ConversationID, v.ID, v.ConversationID)
	}
	if v.Lang != "de" || !v.CreatedAt.Equal(at) {
		t.Fatalf("fill or creation time lost: %+v", v)
	}
}
