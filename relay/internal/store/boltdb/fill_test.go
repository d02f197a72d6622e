package boltdb

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The trees new visitors append to keep their pages full, not half full
// (timeOrderedFill): the file, and what a relay maps per visitor, is what
// the records need. New visitors come in group commits, as in a burst.
func TestNewVisitorsFillTheirPages(t *testing.T) {
	s, _ := openTest(t, Options{})
	// One clock tick per visitor: ids and token keys sort as created.
	start := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	n := 0
	s.opts.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return start.Add(time.Duration(n) * 4 * time.Millisecond)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 150 {
				hash := append([]byte(fmt.Sprintf("%08d", g*1000+i)), make([]byte, 32)...)
				if _, _, err := s.CreateVisitor(context.Background(), hash, "fp"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	err := s.view(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketVisitors, bucketConversations, bucketEvents} {
			st := tx.Bucket(name).Stats()
			if st.LeafPageN < 4 {
				return fmt.Errorf("%s: %d leaf pages: too few to judge", name, st.LeafPageN)
			}
			// The last page is the one being filled; the others are done.
			full := float64(st.LeafInuse) / float64((st.LeafPageN)*tx.DB().Info().PageSize)
			if min := 0.75 * float64(st.LeafPageN-1) / float64(st.LeafPageN); full < min {
				t.Errorf("%s: %d leaf pages %.0f%% used, want at least %.0f%%", name, st.LeafPageN, 100*full, 100*min)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
