package auth

import (
	"context"
	"sync/atomic"
	"time"
)

// Each argon2id hash holds argonMemory KiB while it runs, so the number of
// hashes at once is what bounds the memory sign-ins can take: a flood of
// logins must queue for a slot, not each allocate its own 19 MiB.
const argonBytes = argonMemory << 10

// Defaults for the hash gate, each with the reason for its value.
const (
	// DefaultHashMemory is the memory password hashing may hold at once:
	// three hashes (each tens of milliseconds of one core), enough for a
	// team signing in at nine o'clock, and small enough for a 256 MB box.
	DefaultHashMemory = 64 << 20
	// hashWaitersPerSlot bounds the queue: 16 waiters a slot clear in well
	// under a second; more would only answer late.
	hashWaitersPerSlot = 16
	// DefaultHashWait bounds one request's wait for a slot.
	DefaultHashWait = 5 * time.Second
)

// HashSlots is how many hashes run at once within a memory budget in
// bytes: max(1, budget / (argonMemory KiB)).
func HashSlots(budget int64) int {
	return int(max(1, budget/argonBytes))
}

// hashGate is a semaphore of hash slots with a bounded queue in front.
type hashGate struct {
	slots      chan struct{}
	waiting    atomic.Int64
	maxWaiting int64
	maxWait    time.Duration
}

func newHashGate(budget int64, maxWait time.Duration) *hashGate {
	n := HashSlots(budget)
	return &hashGate{slots: make(chan struct{}, n), maxWaiting: int64(n * hashWaitersPerSlot), maxWait: maxWait}
}

// run calls fn in a free slot. When every slot is taken it waits, unless
// the queue is full or the wait passes maxWait (ErrBusy), or ctx ends.
func (g *hashGate) run(ctx context.Context, fn func()) error {
	select {
	case g.slots <- struct{}{}:
	default:
		if err := g.wait(ctx); err != nil {
			return err
		}
	}
	defer func() { <-g.slots }()
	fn()
	return nil
}

func (g *hashGate) wait(ctx context.Context) error {
	if g.waiting.Add(1) > g.maxWaiting {
		g.waiting.Add(-1)
		return ErrBusy
	}
	defer g.waiting.Add(-1)
	t := time.NewTimer(g.maxWait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}
