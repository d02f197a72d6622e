package admin_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/admin"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

// benchStore fills a store with n conversations of 8 messages each over
// the last 14 days, writing from many goroutines so group commit shares
// the fsyncs.
func benchStore(b *testing.B, n int) *boltdb.Store {
	b.Helper()
	now := time.Now()
	st, err := boltdb.Open(b.TempDir(), boltdb.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ctx := context.Background()
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				_, c, err := st.CreateVisitor(ctx, []byte(store.NewID()), "")
				if err != nil {
					b.Error(err)
					return
				}
				msgs := []store.NewMessage{
					{From: "visitor", Text: "hello, where is my order number " + strconv.Itoa(i)},
					{From: "bot", Via: "ai", Text: "Let me check that for you; orders usually ship within a day."},
					{From: "visitor", Text: "it has been a week already"},
					{From: "system", Text: "Connecting you with a person…"},
					{From: "agent", Text: "Hi, Mei here. I am looking at your order now."},
					{From: "visitor", Text: "thanks"},
					{From: "agent", Text: "It left the warehouse yesterday; tracking is in your email."},
					{From: "visitor", Text: "great, bye"},
				}
				if _, err := st.Append(ctx, c.ID, msgs...); err != nil {
					b.Error(err)
					return
				}
				// Spread the conversations over the window.
				at := now.Add(-time.Duration(i%14) * 24 * time.Hour)
				st.UpdateConversation(ctx, c.ID, func(c *store.Conversation) error { c.CreatedAt = at; return nil })
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return st
}

// KEFU_BENCH_CONVERSATIONS sets the store size (default 2000; the figures
// in docs/admin.md use 10000).
func benchSize() int {
	if n, err := strconv.Atoi(os.Getenv("KEFU_BENCH_CONVERSATIONS")); err == nil && n > 0 {
		return n
	}
	return 2000
}

func BenchmarkDashboard(b *testing.B) {
	n := benchSize()
	st := benchStore(b, n)
	a := admin.New(admin.Deps{Store: st, Router: fakeRouter{}})
	b.ResetTimer()
	for b.Loop() {
		d, err := a.Compute(14, 0)
		if err != nil || d.Conversations != n {
			b.Fatalf("%d conversations, %v", d.Conversations, err)
		}
	}
	b.ReportMetric(float64(n), "conversations")
}

// BenchmarkSearch is GET /v1/admin/conversations?q=…, the slowest list:
// every message of every conversation is read.
func BenchmarkSearch(b *testing.B) {
	n := benchSize()
	st := benchStore(b, n)
	a := admin.New(admin.Deps{Store: st, Router: fakeRouter{}})
	h := a.ListConversations()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest("GET", "/v1/admin/conversations?q="+url.QueryEscape(fmt.Sprint("number ", n-1)), nil))
		if rec.Code != 200 {
			b.Fatalf("search: %d %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(n), "conversations")
}
