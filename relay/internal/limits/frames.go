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
//
// A bucket is made when the first frame spends from it: one that was never
// spent from is full whenever it is looked at, so making it late changes
// nothing, and an idle connection (most of a relay's) holds no buckets —
// they were ~0.7 KB of each idle visitor session's memory.
type Frames struct {
	rates    map[string]Rate // shared between connections; read only
	buckets  []bucket        // made so far, few: a linear scan beats a map
	any      *rate.Limiter
	refusals *rate.Limiter
	now      func() time.Time
}

type bucket struct {
	typ string
	lim *rate.Limiter
}

// NewFrames builds the limits of one connection from a table of rates by
// frame type; types not in the table are limited by AnyFrame alone. The
// table may be shared by every connection: it is only read. now is the
// clock (nil: time.Now).
func NewFrames(rates map[string]Rate, now func() time.Time) *Frames {
	if now == nil {
		now = time.Now
	}
	return &Frames{rates: rates, now: now}
}

func newLimiter(r Rate) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(r.PerSecond), max(1, r.Burst))
}

// Any spends a token of the overall bucket for a frame just read (before
// it is decoded); false means the frame is to be refused.
func (f *Frames) Any() bool {
	if f.any == nil {
		r, ok := f.rates[AnyFrame]
		if !ok {
			return true // no overall limit
		}
		f.any = newLimiter(r)
	}
	return f.any.AllowN(f.now(), 1)
}

// Allow spends a token of typ's bucket; false means the frame is to be
// refused.
func (f *Frames) Allow(typ string) bool {
	if typ == AnyFrame {
		return true // not a frame type: the overall bucket is Any's
	}
	for _, b := range f.buckets {
		if b.typ == typ {
			return b.lim.AllowN(f.now(), 1)
		}
	}
	r, ok := f.rates[typ]
	if !ok {
		return true
	}
	lim := newLimiter(r)
	f.buckets = append(f.buckets, bucket{typ, lim})
	return lim.AllowN(f.now(), 1)
}

// Refused counts a refusal and reports whether the connection is flooding
// and must be closed with 4029.
func (f *Frames) Refused() (flood bool) {
	if f.refusals == nil {
		f.refusals = rate.NewLimiter(FloodPerSecond, FloodBurst)
	}
	return !f.refusals.AllowN(f.now(), 1)
}
