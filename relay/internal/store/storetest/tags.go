package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// TagStore is a store that keeps conversations' tags (in its documents).
type TagStore interface {
	DeskStore
	store.TagDocs
}

// Tags runs the checks of conversations' tags.
func Tags[S TagStore](t *testing.T, b Backend[S]) {
	g := b.group(t)
	defer g.wait()
	g.run("Tags", func(t *testing.T) { testTags(t, b) })
	g.run("TagsFromPeersAtOnce", func(t *testing.T) { testTagsConcurrent(t, b) })
}

func testTags[S TagStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c1 := NewVisitor(t, s)
	_, c2 := NewVisitor(t, s)
	now := time.Now()
	if got, err := store.ReadTags(s, c1.ID); err != nil || got != nil {
		t.Fatalf("tags of an untagged conversation = %q, %v; want none", got, err)
	}
	before, after, err := store.ChangeTags(bg, s, c1.ID, []string{"vip", "refund"}, nil, "a1", now)
	if err != nil || before != nil || !slices.Equal(after, []string{"refund", "vip"}) {
		t.Fatalf("add = %q → %q, %v; want nothing → [refund vip]", before, after, err)
	}
	if _, _, err := store.ChangeTags(bg, s, c2.ID, []string{"退款"}, nil, "a1", now); err != nil {
		t.Fatal(err)
	}
	// Adding what is there changes nothing; removing one keeps the other.
	if _, after, err := store.ChangeTags(bg, s, c1.ID, []string{"vip"}, []string{"refund"}, "a2", now); err != nil || !slices.Equal(after, []string{"vip"}) {
		t.Fatalf("change = %q, %v; want [vip]", after, err)
	}
	if got, err := store.ReadTags(s, c1.ID); err != nil || !slices.Equal(got, []string{"vip"}) {
		t.Fatalf("read back %q, %v; want [vip]", got, err)
	}
	all, err := store.AllTags(s)
	if err != nil || len(all) != 2 || !slices.Equal(all[c2.ID], []string{"退款"}) {
		t.Fatalf("AllTags = %v, %v", all, err)
	}
	// The last tag removed leaves no document behind.
	if _, after, err := store.ChangeTags(bg, s, c1.ID, nil, []string{"vip"}, "a2", now); err != nil || len(after) != 0 {
		t.Fatalf("remove the last = %q, %v", after, err)
	}
	if _, err := s.Doc(store.DocTags, c1.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a conversation without tags still has a document: %v", err)
	}
	// Too many is refused and changes nothing.
	many := make([]string, store.MaxTags+1)
	for i := range many {
		many[i] = fmt.Sprintf("t%02d", i)
	}
	if _, _, err := store.ChangeTags(bg, s, c2.ID, many, nil, "a1", now); !errors.Is(err, store.ErrTooMany) {
		t.Fatalf("%d tags: %v, want ErrTooMany", len(many), err)
	}
	if got, _ := store.ReadTags(s, c2.ID); !slices.Equal(got, []string{"退款"}) {
		t.Fatalf("a refused change changed the tags: %q", got)
	}
	// Erasure: gone, and erasing untagged conversations is no error.
	if err := store.EraseTags(bg, s, []string{c1.ID, c2.ID, "nosuchconversat"}); err != nil {
		t.Fatal(err)
	}
	if all, err := store.AllTags(s); err != nil || len(all) != 0 {
		t.Fatalf("after erasure AllTags = %v, %v", all, err)
	}
}

// testTagsConcurrent: agents on several nodes tag one conversation at
// once; every tag is kept (compare-and-set, not last writer wins).
func testTagsConcurrent[S TagStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	const writers, each = 3, 2
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		st := s
		if w > 0 {
			st = peer(t, b, s)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, _, err := store.ChangeTags(bg, st, c.ID, []string{fmt.Sprintf("w%d-%d", w, i)}, nil, "a", time.Now()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := store.ReadTags(s, c.ID)
	if err != nil || len(got) != writers*each {
		t.Fatalf("after %d concurrent adds: %q, %v", writers*each, got, err)
	}
}
