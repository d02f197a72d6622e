package openaitest

import (
	"bufio"
	"bytes"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestThousandConcurrentStreams holds 1 000 streams open at once against
// one fake, as the benchmark will, and checks that every one completes
// with its text intact. It reports the time to first chunk and the
// per-chunk delivery lag (receive time minus x_kefu_sent_ns).
func TestThousandConcurrentStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const streams = 1000
	text := strings.Repeat("abcd", 10) // 10 chunks of 4 runes
	// 10 chunks 100 ms apart: each stream lasts a second, long enough for
	// all of them to be open at once even when a loaded box is slow to start
	// a thousand goroutines and connections.
	s := New(t, Options{Text: text, Delay: 100 * time.Millisecond, Stamp: true, MaxLog: -1})
	tr := &http.Transport{MaxIdleConnsPerHost: streams, MaxConnsPerHost: 0}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 2 * time.Minute}

	var (
		mu         sync.Mutex
		firsts     []time.Duration
		lags       []time.Duration
		failures   int
		wg         sync.WaitGroup
		start      = make(chan struct{})
		reqBody    = []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		wantChunks = 10
	)
	peak := 0
	for range streams {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			resp, err := client.Post(s.BaseURL+"/chat/completions", "application/json", bytes.NewReader(reqBody))
			if err != nil {
				mu.Lock()
				failures++
				mu.Unlock()
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			var got strings.Builder
			chunks, done := 0, false
			var first time.Duration
			var myLags []time.Duration
			for sc.Scan() {
				line := sc.Bytes()
				if !bytes.HasPrefix(line, []byte("data: ")) {
					continue
				}
				if string(line) == "data: [DONE]" {
					done = true
					continue
				}
				now := time.Now()
				if i := bytes.Index(line, []byte(`"content":"`)); i >= 0 {
					rest := line[i+len(`"content":"`):]
					c := string(rest[:bytes.IndexByte(rest, '"')])
					if c != "" {
						chunks++
						got.WriteString(c)
						if first == 0 {
							first = now.Sub(t0)
						}
					}
				}
				if i := bytes.Index(line, []byte(`"x_kefu_sent_ns":`)); i >= 0 {
					rest := line[i+len(`"x_kefu_sent_ns":`):]
					ns, _ := strconv.ParseInt(string(rest[:bytes.IndexByte(rest, '}')]), 10, 64)
					myLags = append(myLags, now.Sub(time.Unix(0, ns)))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if !done || chunks != wantChunks || got.String() != text {
				failures++
				return
			}
			firsts = append(firsts, first)
			lags = append(lags, myLags...)
			peak = max(peak, s.Active())
		})
	}
	close(start)
	wg.Wait()
	if failures > 0 {
		t.Fatalf("%d of %d streams failed", failures, streams)
	}
	if peak < streams/2 {
		t.Errorf("peak concurrency seen by the fake: %d, want most of %d at once", peak, streams)
	}
	pct := func(d []time.Duration, p float64) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[int(float64(len(d)-1)*p)]
	}
	t.Logf("%d streams, peak %d open at once; first chunk p50 %v p99 %v; chunk lag p50 %v p90 %v p99 %v",
		streams, peak, pct(firsts, 0.5), pct(firsts, 0.99), pct(lags, 0.5), pct(lags, 0.9), pct(lags, 0.99))
}
