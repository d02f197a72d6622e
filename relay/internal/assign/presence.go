package assign

import (
	"context"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Upsert adds or refreshes an account (created or edited by an admin).
// Disabled accounts are removed and their chats go back to the queue.
func (r *Router) Upsert(ctx context.Context, acct store.Account) {
	r.mu.Lock()
	a := r.agents[acct.ID]
	switch {
	case acct.Disabled && a != nil:
		delete(r.agents, acct.ID)
		r.mu.Unlock()
		r.announceAccount(acct.ID)
		r.release(ctx, acct.ID, acct.Name)
		r.publishAgents()
		return
	case acct.Disabled:
		r.mu.Unlock()
		return
	case a == nil:
		r.agents[acct.ID] = &agent{acct: acct, offlineSince: r.now()}
	default:
		a.acct = acct
	}
	r.mu.Unlock()
	r.announceAccount(acct.ID)
	r.publishAgents()
	r.drain(ctx)
}

// Connected records an agent console connecting with a status (online or
// away; "" keeps the current one).
func (r *Router) Connected(ctx context.Context, acct store.Account, status string) {
	r.mu.Lock()
	a := r.agents[acct.ID]
	if a == nil {
		a = &agent{acct: acct}
		r.agents[acct.ID] = a
	}
	a.conns++
	a.offlineSince = time.Time{}
	if status != "" {
		a.away, a.awayAt = status == protocol.StatusAway, r.now()
	}
	r.mu.Unlock()
	r.announcePresence()
	r.publishAgents()
	r.drain(ctx)
}

// Disconnected records an agent console going away.
func (r *Router) Disconnected(agentID string) {
	r.mu.Lock()
	if a := r.agents[agentID]; a != nil {
		a.conns--
		if a.conns <= 0 {
			a.conns = 0
			if !a.online() {
				a.offlineSince = r.now()
			}
		}
	}
	r.mu.Unlock()
	r.announcePresence()
	r.publishAgents()
}

// SetStatus sets an agent online (routable) or away (keeps their chats).
func (r *Router) SetStatus(ctx context.Context, agentID, status string) {
	r.mu.Lock()
	if a := r.agents[agentID]; a != nil {
		a.away, a.awayAt = status == protocol.StatusAway, r.now()
	}
	r.mu.Unlock()
	r.announcePresence()
	r.publishAgents()
	r.drain(ctx)
}

// release sends every open conversation of an agent back to the queue.
func (r *Router) release(ctx context.Context, agentID, name string) {
	convs, err := r.store.Conversations(func(c *store.Conversation) bool {
		return c.Status == store.StatusOpen && c.Handler == store.HandlerAgent && c.AgentID == agentID
	})
	if err != nil {
		r.log.Error("assign: release", "agent", agentID, "err", err)
		return
	}
	for _, c := range convs {
		if err := r.requeue(ctx, c.ID, awayText(name, r.lang(c.ID))); err != nil {
			r.log.Warn("assign: requeue", "conversation", c.ID, "err", err)
		}
	}
}

// Tick reassigns the chats of agents offline longer than the grace period
// and retries the queue; the relay calls it every few seconds. In a
// cluster it also sends this node's presence, forgets nodes gone silent,
// and (on the routing node) rereads the store now and then.
func (r *Router) Tick(ctx context.Context) {
	r.tickCluster(ctx)
	if !r.routing() {
		return
	}
	now := r.now()
	type gone struct{ id, name string }
	var late []gone
	r.mu.Lock()
	for _, a := range r.agents {
		if !a.online() && r.load[a.acct.ID] > 0 && !a.offlineSince.IsZero() && now.Sub(a.offlineSince) >= r.grace {
			late = append(late, gone{a.acct.ID, a.acct.Name})
		}
	}
	r.mu.Unlock()
	for _, g := range late {
		r.log.Info("assign: agent offline past the grace period; reassigning their chats", "agent", g.id)
		r.release(ctx, g.id, g.name)
	}
	r.drain(ctx)
}

// Run calls Tick every interval and flushes inbox changes every
// InboxEvery, until ctx ends.
func (r *Router) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	inbox := time.NewTicker(InboxEvery)
	defer inbox.Stop()
	for {
		select {
		case <-ctx.Done():
			r.flushInbox()
			return
		case <-inbox.C:
			r.flushInbox()
		case <-t.C:
			r.Tick(ctx)
		}
	}
}
