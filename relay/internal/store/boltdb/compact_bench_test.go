package boltdb

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
)

// BenchmarkCompact measures what an erasure's compaction (wiping the free
// pages) costs on a store of 20 000 conversations of 10 messages, against
// copying the same file and fsyncing the copy (what the copy-and-rename
// compaction before issue 16 cost at the least), in the same run:
// docs/benchmarks.md has the ratio.
func BenchmarkCompact(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 20000; i += 64 {
				_, c, err := s.CreateVisitor(context.Background(), storetest.TokenHash(store.NewID()), "")
				if err != nil {
					b.Error(err)
					return
				}
				for j := range 5 {
					if _, err := s.Append(context.Background(), c.ID, store.NewMessage{From: "visitor", Text: fmt.Sprintf("question %d about my order number %d and its delivery", j, i)},
						store.NewMessage{From: "bot", Text: "Orders ship within two working days; you get a tracking link by email."}); err != nil {
						b.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	fi, _ := os.Stat(s.Path())
	var compact, copyFile time.Duration
	wiped := 0
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		st, err := s.Compact(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		wiped += st.PagesWiped
		compact += time.Since(start)
		start = time.Now()
		if err := copyAndSync(s.Path(), filepath.Join(dir, "copy")); err != nil {
			b.Fatal(err)
		}
		copyFile += time.Since(start)
	}
	b.ReportMetric(float64(fi.Size())/(1<<20), "MiB")
	b.ReportMetric(float64(compact.Milliseconds())/float64(b.N), "compact-ms")
	b.ReportMetric(float64(compact)/float64(copyFile), "x-copy")
	b.ReportMetric(float64(wiped)/float64(b.N), "pages-wiped")
}

func copyAndSync(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
