package origin

import (
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// MaxRefused is how many refused sites the relay remembers: enough for
// the few a business forgot to list, bounded against a flood of made-up
// Origin headers (the oldest is forgotten first).
const MaxRefused = 20

// Refusal is a site whose pages were refused: its origin only, never
// anything about the visitors (no address, no page, no time per visit).
type Refusal struct {
	Origin string    `json:"origin"`
	Count  int64     `json:"count"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
}

// refusals remembers the most recently refused origins, in memory (they
// are a hint for the admin page, rebuilt within minutes of a restart).
type refusals struct {
	mu  sync.Mutex
	by  map[string]*Refusal
	now func() time.Time
}

// record notes one refusal of origin; what is not an http(s) origin (or
// "null", a sandboxed or file:// page) is not worth showing and is dropped.
func (r *refusals) record(origin string) {
	o, ok := canonical(origin)
	if !ok {
		return
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.by[o]; f != nil {
		f.Count++
		f.Last = now
		return
	}
	if len(r.by) >= MaxRefused {
		var oldest string
		for k, f := range r.by {
			if oldest == "" || f.Last.Before(r.by[oldest].Last) {
				oldest = k
			}
		}
		delete(r.by, oldest)
	}
	r.by[o] = &Refusal{Origin: o, Count: 1, First: now, Last: now}
}

// list returns the refusals, most recent first.
func (r *refusals) list() []Refusal {
	r.mu.Lock()
	out := make([]Refusal, 0, len(r.by))
	for _, f := range r.by {
		out = append(out, *f)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Refusal) int {
		if c := b.Last.Compare(a.Last); c != 0 {
			return c
		}
		return strings.Compare(a.Origin, b.Origin)
	})
	return out
}

func canonical(origin string) (string, bool) {
	if origin == "null" {
		return origin, true
	}
	if len(origin) > 255 {
		return "", false
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") {
		return "", false
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), true
}
