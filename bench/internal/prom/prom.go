// Package prom reads the few series the benchmark needs from a Prometheus
// text exposition (GET /metrics): counters, gauges and histogram sums and
// counts, by name and labels.
package prom

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Sample is one scrape: series (name plus labels exactly as written, e.g.
// `kefu_messages_total{from="visitor"}`) to value.
type Sample map[string]float64

// Parse reads a text exposition.
func Parse(r io.Reader) (Sample, error) {
	s := Sample{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		s[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("prom: read: %w", err)
	}
	return s, nil
}

// Scrape fetches and parses url.
func Scrape(ctx context.Context, url string) (Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("prom: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("prom: scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("prom: scrape %s: %s", url, resp.Status)
	}
	return Parse(resp.Body)
}

// Get is one series' value (0 if absent).
func (s Sample) Get(series string) float64 { return s[series] }

// Sum adds every series of a metric name, whatever its labels.
func (s Sample) Sum(name string) float64 {
	var t float64
	for k, v := range s {
		if k == name || strings.HasPrefix(k, name+"{") {
			t += v
		}
	}
	return t
}
