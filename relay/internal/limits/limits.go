// Package limits holds the relay's abuse controls: connections per IP,
// frame rates per connection (every frame type) and message rates per
// visitor.
package limits

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Counter caps concurrent holders per key (open sockets per IP).
type Counter struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

// NewCounter allows max holders per key; 0 means no limit.
func NewCounter(max int) *Counter { return &Counter{max: max, n: map[string]int{}} }

// Acquire takes a slot for key, or reports false when key is at the limit.
func (c *Counter) Acquire(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max > 0 && c.n[key] >= c.max {
		return false
	}
	c.n[key]++
	return true
}

// Release gives back a slot taken by Acquire.
func (c *Counter) Release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[key] <= 1 {
		delete(c.n, key)
		return
	}
	c.n[key]--
}

// Burst is the burst allowed at a rate: two seconds' worth, at least 1.
func Burst(perSecond float64) int { return max(1, int(2*perSecond)) }

// ClientIP is the address a request comes from. Behind a proxy that says so
// it is the last address the proxy appended to X-Forwarded-For: earlier
// entries are whatever the client claimed.
func ClientIP(r *http.Request, behindProxy bool) string {
	if behindProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			if ip := strings.TrimSpace(parts[len(parts)-1]); net.ParseIP(ip) != nil {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Keyed is a token bucket per key (a visitor over all their tabs and HTTP
// requests, an IP), whose idle entries are dropped as it goes.
type Keyed struct {
	limit rate.Limit
	burst int
	now   func() time.Time
	mu    sync.Mutex
	m     map[string]*keyedEntry
	swept time.Time
}

type keyedEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

// keyedIdle is how long an unused key keeps its bucket; by then a bucket
// has refilled for any sensible rate, so dropping it forgets nothing.
const keyedIdle = time.Minute

// NewKeyed allows perSecond requests per key with a burst of burst.
func NewKeyed(perSecond float64, burst int, now func() time.Time) *Keyed {
	if now == nil {
		now = time.Now
	}
	return &Keyed{limit: rate.Limit(perSecond), burst: burst, now: now, m: map[string]*keyedEntry{}}
}

// Allow reports whether key may make one more request now.
func (k *Keyed) Allow(key string) bool {
	return k.Limiter(key).AllowN(k.now(), 1)
}

// Limiter returns key's bucket, for callers that look before they take
// (the login throttle only spends a token on a failure).
func (k *Keyed) Limiter(key string) *rate.Limiter {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	if now.Sub(k.swept) > keyedIdle {
		for key, e := range k.m {
			if now.Sub(e.seen) > keyedIdle {
				delete(k.m, key)
			}
		}
		k.swept = now
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{lim: rate.NewLimiter(k.limit, k.burst)}
		k.m[key] = e
	}
	e.seen = now
	return e.lim
}

// NewPerAddress is the limiter of unauthenticated work per address:
// perSecond with a burst of thirty seconds' worth (an office behind one
// address opens many chats at nine o'clock), nil when perSecond is 0 (no
// limit).
func NewPerAddress(perSecond float64) *Keyed {
	if perSecond <= 0 {
		return nil
	}
	return NewKeyed(perSecond, max(1, int(30*perSecond)), nil)
}

// AllowAddress is k.Allow, with a nil k allowing everything.
func (k *Keyed) AllowAddress(addr string) bool { return k == nil || k.Allow(addr) }

// PerAddress refuses requests from an address over its rate with 429 and
// the rate_limited code, before h runs (unauthenticated endpoints that cost
// CPU, like classification).
func PerAddress(k *Keyed, behindProxy bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodOptions && !k.AllowAddress(ClientIP(r, behindProxy)) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":{"code":"rate_limited","message":"too many requests from your address; wait a moment"}}` + "\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
