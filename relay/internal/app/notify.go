package app

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/kefuhq/kefu/relay/internal/egress"
	"github.com/kefuhq/kefu/relay/internal/notify"
	"github.com/kefuhq/kefu/relay/internal/push"
	"github.com/kefuhq/kefu/relay/internal/secret"
	"github.com/kefuhq/kefu/relay/internal/webhook"
)

// notifierRole names the lease of the cluster node that runs the
// notifiers.
const notifierRole = "notifier"

// notifiers are the parts that tell people what happened, from the
// store's event log: webhooks, Web Push and the log's housekeeping. One process
// runs them at a time — the only node, or the cluster node holding the
// notifier lease — so an event is not delivered by two nodes at once.
// Every node serves their admin API (their state is in the store).
type notifiers struct {
	wake     *notify.Waker
	webhooks *webhook.Service
	push     *push.Service
	house    *notify.Housekeeper

	mu      sync.Mutex
	parent  context.Context    // the relay's background context, once it runs
	want    bool               // the lease says run (always true on one node)
	stop    context.CancelFunc // the running generation's, nil when stopped
	stopped chan struct{}      // closed when the running generation has ended
}

// buildNotifiers makes the notifiers from the stored settings.
func (a *App) buildNotifiers(ctx context.Context, key *secret.Key, keySource string) error {
	n := &a.notify
	var err error
	n.webhooks, err = webhook.New(a.store, webhook.Options{
		Egress: egress.Policy{AllowPrivate: a.cfg.AllowPrivateDestinations}, Key: key, ForgetSecrets: a.cfg.ForgetSecrets,
		Wake: n.wake, Logger: a.log,
	})
	if errors.Is(err, webhook.ErrKeyUnreadable) {
		return fmt.Errorf("%w (the key is from %s). Restore the key file this database was used with, or start once with --forget-secrets=true to drop the stored webhook secrets and set new ones", err, keySource)
	}
	if err != nil {
		return err
	}
	subject := a.cfg.PublicURL
	if subject == "" {
		subject = "mailto:kefu@localhost"
	}
	n.push, err = push.New(ctx, a.store, push.Options{
		Egress: egress.Policy{AllowPrivate: a.cfg.AllowPrivateDestinations}, Key: key, Subject: subject, Wake: n.wake, Logger: a.log,
		ForgetSecrets: a.cfg.ForgetSecrets,
	})
	if err != nil {
		return fmt.Errorf("%w (the key is from %s)", err, keySource)
	}
	n.house = &notify.Housekeeper{Log: a.store, Logger: a.log, Readers: []func() (uint64, bool, error){
		// Mail keeps its own position; it is built later in build.
		func() (uint64, bool, error) { return a.mail.Position() },
	}}
	return nil
}

// runNotifiers runs them until ctx ends: at once on one node; on a
// cluster while this node holds the notifier lease (notifierLease).
func (a *App) runNotifiers(ctx context.Context) {
	n := &a.notify
	n.mu.Lock()
	n.parent = ctx
	if a.cluster == nil {
		n.want = true
	}
	n.mu.Unlock()
	n.converge(a)
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		<-ctx.Done()
		n.mu.Lock()
		done := n.stopped
		n.mu.Unlock()
		if done != nil {
			<-done
		}
	}()
}

// notifierLease is told when this node gains or loses the notifier lease.
func (a *App) notifierLease(held bool) {
	n := &a.notify
	n.mu.Lock()
	n.want = held
	n.mu.Unlock()
	n.converge(a)
}

// converge starts or stops a generation of the notifiers to match want.
// It never blocks: a new generation starts only after the previous one
// has ended, so one node never runs two.
func (n *notifiers) converge(a *App) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.parent == nil {
		return // not running yet: runNotifiers converges
	}
	switch {
	case !n.want && n.stop != nil:
		n.stop()
		n.stop = nil
	case n.want && n.stop == nil && n.parent.Err() == nil:
		prev := n.stopped
		ctx, cancel := context.WithCancel(n.parent)
		done := make(chan struct{})
		n.stop, n.stopped = cancel, done
		go func() {
			defer close(done)
			if prev != nil {
				<-prev
			}
			if ctx.Err() != nil {
				return
			}
			a.log.Info("notify: delivering webhooks and push notifications from this node")
			var wg sync.WaitGroup
			wg.Add(3)
			go func() { defer wg.Done(); n.webhooks.Run(ctx) }()
			go func() { defer wg.Done(); n.push.Run(ctx) }()
			go func() { defer wg.Done(); n.house.Run(ctx) }()
			wg.Wait()
		}()
	}
}
