package ai

import (
	"context"
	"fmt"
	"sync"
)

// Defaults for NewLimiter.
const (
	// DefaultGlobalConcurrency bounds upstream streams for the whole
	// relay: cost control, and the upstream's own rate limits.
	DefaultGlobalConcurrency = 64
	// DefaultPerVisitorConcurrency: one visitor gets one answer at a time;
	// more is a script, not a person.
	DefaultPerVisitorConcurrency = 1
)

// Limiter bounds concurrent upstream streams globally and per visitor.
// A visitor's own slot is taken first, so one visitor flooding the relay
// queues behind itself and holds at most perVisitor global slots.
type Limiter struct {
	global     chan struct{}
	perVisitor int

	mu       sync.Mutex
	visitors map[string]*visitorSlots
}

type visitorSlots struct {
	sem  chan struct{}
	refs int // holders and waiters; the entry goes when it reaches 0
}

// NewLimiter returns a Limiter; values < 1 take the defaults.
func NewLimiter(global, perVisitor int) *Limiter {
	if global < 1 {
		global = DefaultGlobalConcurrency
	}
	if perVisitor < 1 {
		perVisitor = DefaultPerVisitorConcurrency
	}
	return &Limiter{global: make(chan struct{}, global), perVisitor: perVisitor, visitors: map[string]*visitorSlots{}}
}

// Acquire waits for a slot for visitor, as long as ctx allows. The error
// matches ErrBusy and the context's error. release must be called once.
func (l *Limiter) Acquire(ctx context.Context, visitor string) (release func(), err error) {
	v := l.ref(visitor)
	select {
	case v.sem <- struct{}{}:
	case <-ctx.Done():
		l.unref(visitor, v)
		return nil, fmt.Errorf("ai: acquire visitor slot: %w (%w)", ErrBusy, ctx.Err())
	}
	select {
	case l.global <- struct{}{}:
	case <-ctx.Done():
		<-v.sem
		l.unref(visitor, v)
		return nil, fmt.Errorf("ai: acquire global slot: %w (%w)", ErrBusy, ctx.Err())
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-l.global
			<-v.sem
			l.unref(visitor, v)
		})
	}, nil
}

func (l *Limiter) ref(visitor string) *visitorSlots {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := l.visitors[visitor]
	if v == nil {
		v = &visitorSlots{sem: make(chan struct{}, l.perVisitor)}
		l.visitors[visitor] = v
	}
	v.refs++
	return v
}

func (l *Limiter) unref(visitor string, v *visitorSlots) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v.refs--
	if v.refs == 0 {
		delete(l.visitors, visitor)
	}
}

// InUse returns the global slots held now.
func (l *Limiter) InUse() int { return len(l.global) }

// Visitors returns how many visitors hold or wait for a slot (the map
// must not grow with every visitor ever seen).
func (l *Limiter) Visitors() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.visitors)
}
