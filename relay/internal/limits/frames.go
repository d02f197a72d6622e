package limits

import (
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token bucket's size: PerSecond tokens a second, Burst at once.
type Rate struct {
	PerSecond float64
	Burst     int
}

// AnyFrame is the key of the bucket every frame of a connection spends
// from, whatever its type (valid or not), on top of its own type's.
const AnyFrame = "*"

// The refuse-then-disconnect rule, the same for every frame type and both
// sockets: a frame over its rate is refused with rate_limited; refusals
// are limited too — FloodBurst of them at once, FloodPerSecond after that —
// and one more is a flood, closed with 4029. A client that backs off when
// refused is never cut; one that ignores the refusals is cut within
// FloodBurst frames.
const (
	FloodBurst     = 80
	FloodPerSecond = 10
)

// Frames limits the frames one connection sends: a bucket per frame type,
// one for all frames (AnyFrame), and one for refusals. It is used by the
// connection's reader goroutine only, so it takes no lock.
type Frames struct {
	buckets  map[string]*rate.Limiter
	any      *rate.Limiter // nil: no overall limit
	refusals *rate.Limiter
	now      func() time.Time
}

// NewFrames builds the limits of one connection from a table of rates by
// frame type; types not in the table are limited by AnyFrame alone. now
// is the clock (nil: time.Now).
func NewFrames(rates map[string]Rate, now func() time.Time) *Frames {
	if now == nil {
		now = time.Now
	}
	f := &Frames{buckets: make(map[string]*rate.Limiter, len(rates)), now: now,
		refusals: rate.NewLimiter(FloodPerSecond, FloodBurst)}
	for typ, r := range rates {
		lim := rate.NewLimiter(rate.Limit(r.PerSecond), max(1, r.Burst))
		if typ == AnyFrame {
			f.any = lim
			continue
		}
		f.buckets[typ] = lim
	}
	return f
}

// Any spends a token of the overall bucket for a frame just read (before
// it is decoded); false means the frame is to be refused.
func (f *Frames) Any() bool { return f.any == nil || f.any.AllowN(f.now(), 1) }

// Allow spends a token of typ's bucket; false means the frame is to be
// refused.
func (f *Frames) Allow(typ string) bool {
	lim := f.buckets[typ]
	return lim == nil || lim.AllowN(f.now(), 1)
}

// Refused counts a refusal and reports whether the connection is flooding
// and must be closed with 4029.
func (f *Frames) Refused() (flood bool) { return !f.refusals.AllowN(f.now(), 1) }
