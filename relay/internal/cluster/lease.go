package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Lease timing: the holder renews every LeaseRenew; a lease not renewed
// for LeaseTTL expires (JetStream drops the key) and another node takes
// it. The holder stops acting as such LeaseMargin before the key can
// expire, so two nodes never both believe they hold it — unless a clock
// jumps, which is why what a lease elects is also guarded by
// compare-and-set in the store (docs/cluster.md).
const (
	LeaseRenew  = 2 * time.Second
	LeaseTTL    = 8 * time.Second
	LeaseMargin = 3 * time.Second
)

// Lease elects one node for a role: a key-value entry in a bucket whose
// entries expire after LeaseTTL, created by the first node to ask and
// renewed by compare-and-set.
type Lease struct {
	kv   jetstream.KeyValue
	key  string
	id   string
	log  *slog.Logger
	now  func() time.Time
	held func(bool)

	mu      sync.Mutex
	rev     uint64    // the entry's revision while held
	renewed time.Time // last successful create or renew
	holding bool      // what held was last told
}

// NewLease binds to (or creates) the leases bucket and returns a lease on
// role. held is told when this node gains (true) or loses (false) it.
func NewLease(ctx context.Context, n *Node, prefix string, replicas int, role string, held func(bool), log *slog.Logger) (*Lease, error) {
	js, err := jetstream.New(n.Conn)
	if err != nil {
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	name := prefix + "_leases"
	// Every node of a new cluster makes the bucket at once, and parallel
	// creations of one stream are slow in JetStream: a request can time
	// out while another node's creation goes through, or get no answer
	// at all (a request made as the meta leader changes). Each attempt
	// is bounded (a JetStream request otherwise waits as long as its
	// context: a node's start could hang on one lost answer), and they
	// go on until ctx ends rather than failing the node's start.
	wait := 250 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, leaseAttempt(ctx))
		kv, err := leaseBucket(actx, js, name, replicas)
		cancel()
		if err == nil {
			return &Lease{kv: kv, key: role, id: n.ID, log: log, now: time.Now, held: held}, nil
		}
		log.Warn("cluster: the leases bucket is not ready; trying again", "bucket", name, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster: leases bucket %s: %w", name, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// leaseAttemptMax bounds one attempt at the leases bucket.
const leaseAttemptMax = 5 * time.Second

// leaseAttempt is how long one attempt at the leases bucket may take: at
// most leaseAttemptMax, and a third of what ctx has left, so a lost
// answer always leaves time to ask again.
func leaseAttempt(ctx context.Context) time.Duration {
	d := leaseAttemptMax
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl)/3)
	}
	return max(d, 10*time.Millisecond)
}

// leaseBucket opens the leases bucket, making it if no node has.
func leaseBucket(ctx context.Context, js jetstream.JetStream, name string, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: name, Description: "Kefu: which node holds each role (the queue's router)",
			TTL: LeaseTTL, Storage: jetstream.FileStorage, Replicas: replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, name)
		}
	}
	return kv, err
}

// Held reports whether this node holds the lease now.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.heldLocked()
}

func (l *Lease) heldLocked() bool {
	return l.rev != 0 && l.now().Sub(l.renewed) < LeaseTTL-LeaseMargin
}

// Run takes and renews the lease until ctx ends, then gives it up.
func (l *Lease) Run(ctx context.Context) {
	t := time.NewTicker(LeaseRenew)
	defer t.Stop()
	for {
		l.try(ctx)
		select {
		case <-ctx.Done():
			l.release()
			return
		case <-t.C:
		}
	}
}

func (l *Lease) try(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, LeaseRenew)
	defer cancel()
	l.mu.Lock()
	rev := l.rev
	if rev != 0 && !l.heldLocked() {
		rev = 0 // too late to renew: someone may hold it by now
	}
	l.mu.Unlock()
	var err error
	if rev != 0 {
		rev, err = l.kv.Update(ctx, l.key, []byte(l.id), rev)
	} else {
		rev, err = l.kv.Create(ctx, l.key, []byte(l.id))
	}
	at := l.now()
	l.mu.Lock()
	if err != nil {
		l.rev = 0
		if !errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil {
			l.log.Debug("cluster: lease", "role", l.key, "err", err)
		}
	} else {
		l.rev, l.renewed = rev, at
	}
	l.notifyLocked()
}

// notifyLocked tells held about a change and unlocks.
func (l *Lease) notifyLocked() {
	now := l.heldLocked()
	changed := now != l.holding
	l.holding = now
	l.mu.Unlock()
	if changed {
		l.log.Info("cluster: role", "role", l.key, "held", now)
		if l.held != nil {
			l.held(now)
		}
	}
}

// release deletes the entry if this node still holds it, so another node
// takes the role at once instead of after LeaseTTL.
func (l *Lease) release() {
	l.mu.Lock()
	rev := l.rev
	l.rev = 0
	l.notifyLocked()
	if rev == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(rev)); err != nil {
		l.log.Debug("cluster: release lease", "role", l.key, "err", err)
	}
}
