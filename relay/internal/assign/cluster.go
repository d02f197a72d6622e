package assign

import (
	"context"
	"encoding/json"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// How routing works on several nodes (docs/cluster.md, "Routing"):
//
//   - Every node keeps the same view — agents' presence and load, the
//     queue — from what it does itself and what the others announce on the
//     bus: each change of a conversation's handler, each node's consoles
//     (at every change and every PresenceEvery), accounts edited.
//   - One node routes the queue: the one holding the router's lease. The
//     others only record; a node that takes the lease first rereads the
//     store, so a lost announcement costs at most a late assignment.
//   - Assignments are compare-and-set on the conversation record (the
//     lifecycle's Assign with the handler it expects), so even two nodes
//     that both believe they route never give one conversation twice.

// Peers are the routers on a cluster's other nodes.
type Peers interface {
	// Publish tells every other node about a change, at most once.
	Publish(kind string, v any)
	// ID is this node's id on the bus.
	ID() string
	// Routing reports whether this node routes the queue now.
	Routing() bool
}

// Timing of the cluster view.
const (
	// PresenceEvery is how often a node repeats its consoles' presence.
	PresenceEvery = 5 * time.Second
	// PresenceTTL forgets a node not heard from for this long (it died or
	// is cut off): its agents count as disconnected there.
	PresenceTTL = 3 * PresenceEvery
	// SyncEvery is how often the routing node rereads the store to repair
	// what lost announcements left behind.
	SyncEvery = time.Minute
	// stampsFor keeps the time of a conversation's newest change this long
	// after it left the router's view, to ignore older news arriving late.
	stampsFor = 10 * time.Minute
)

// Bus event kinds.
const (
	kindConv     = "assign.conv"
	kindPresence = "assign.presence"
	kindAccount  = "assign.account"
)

// convEvent is a conversation whose handler changed.
type convEvent struct {
	Conv     store.Conversation `json:"conv"`
	Question string             `json:"question,omitempty"`
	Skill    string             `json:"skill,omitempty"`
}

// presence is one node's consoles.
type presence struct {
	Node   string          `json:"node"`
	Agents []agentPresence `json:"agents"`
	seen   time.Time
}

type agentPresence struct {
	ID     string    `json:"id"`
	Conns  int       `json:"conns"`
	Away   bool      `json:"away"`
	AwayAt time.Time `json:"away_at"`
}

type accountEvent struct {
	ID string `json:"id"`
}

func (r *Router) announce(c store.Conversation, question, skill string) {
	if r.peers != nil {
		r.peers.Publish(kindConv, convEvent{Conv: c, Question: question, Skill: skill})
	}
}

func (r *Router) announceAccount(id string) {
	if r.peers != nil {
		r.peers.Publish(kindAccount, accountEvent{ID: id})
	}
}

// announcePresence sends this node's consoles: who is connected here, and
// their away flag.
func (r *Router) announcePresence() {
	if r.peers == nil {
		return
	}
	p := presence{Node: r.peers.ID(), Agents: []agentPresence{}}
	r.mu.Lock()
	for _, a := range r.agents {
		if a.conns > 0 {
			p.Agents = append(p.Agents, agentPresence{ID: a.acct.ID, Conns: a.conns, Away: a.away, AwayAt: a.awayAt})
		}
	}
	r.mu.Unlock()
	r.peers.Publish(kindPresence, p)
}

// PeerHandlers are the bus handlers of the router's events, by kind.
func (r *Router) PeerHandlers() map[string]func(data []byte, reply func(any)) {
	return map[string]func([]byte, func(any)){
		kindConv: func(data []byte, _ func(any)) {
			var ev convEvent
			if err := json.Unmarshal(data, &ev); err != nil {
				r.log.Warn("assign: bad conversation event", "err", err)
				return
			}
			r.applyRemote(ev)
		},
		kindPresence: func(data []byte, _ func(any)) {
			var p presence
			if err := json.Unmarshal(data, &p); err != nil || p.Node == "" {
				r.log.Warn("assign: bad presence event", "err", err)
				return
			}
			r.applyPresence(&p)
		},
		kindAccount: func(data []byte, _ func(any)) {
			var ev accountEvent
			if err := json.Unmarshal(data, &ev); err != nil {
				r.log.Warn("assign: bad account event", "err", err)
				return
			}
			r.refreshAccount(ev.ID)
		},
	}
}

// applyRemote takes another node's change of a conversation, unless this
// node already saw a newer one.
func (r *Router) applyRemote(ev convEvent) {
	r.mu.Lock()
	if ev.Conv.UpdatedAt.Before(r.stamps[ev.Conv.ID]) {
		r.mu.Unlock()
		return
	}
	newOwner := r.applyLocked(ev.Conv, ev.Question, ev.Skill)
	r.mu.Unlock()
	r.publishAgents()
	if newOwner && r.OnAssigned != nil {
		r.OnAssigned(ev.Conv.AgentID, ev.Conv.ID)
	}
	if ev.Conv.Handler == store.HandlerQueue {
		r.drain(context.Background())
	}
}

// refresh rereads one conversation from the store.
func (r *Router) refresh(convID string) {
	c, err := r.store.Conversation(convID)
	if err != nil {
		r.log.Warn("assign: reread conversation", "conversation", convID, "err", err)
		return
	}
	r.mu.Lock()
	r.applyLocked(c, "", "")
	r.mu.Unlock()
}

// refreshAccount rereads an account another node changed.
func (r *Router) refreshAccount(id string) {
	acct, err := r.store.Account(id)
	if err != nil {
		r.log.Warn("assign: reread account", "account", id, "err", err)
		return
	}
	r.mu.Lock()
	a := r.agents[id]
	switch {
	case acct.Disabled:
		delete(r.agents, id)
	case a == nil:
		r.agents[id] = &agent{acct: acct, offlineSince: r.now()}
		r.mergePresenceLocked()
	default:
		a.acct = acct
	}
	r.mu.Unlock()
	r.publishAgents()
	r.drain(context.Background())
}

// applyPresence takes another node's consoles. An agent this node does not
// know yet (an account made on another node) is read from the store.
func (r *Router) applyPresence(p *presence) {
	p.seen = r.now()
	r.mu.Lock()
	var unknown []string
	for _, ap := range p.Agents {
		if r.agents[ap.ID] == nil {
			unknown = append(unknown, ap.ID)
		}
	}
	r.mu.Unlock()
	for _, id := range unknown {
		acct, err := r.store.Account(id)
		if err != nil {
			r.log.Warn("assign: read an agent present on another node", "agent", id, "err", err)
			continue
		}
		r.mu.Lock()
		if r.agents[id] == nil && !acct.Disabled {
			r.agents[id] = &agent{acct: acct, offlineSince: r.now()}
		}
		r.mu.Unlock()
	}
	r.mu.Lock()
	r.nodes[p.Node] = p
	changed := r.mergePresenceLocked()
	r.mu.Unlock()
	if changed {
		r.publishAgents()
		r.drain(context.Background())
	}
}

// mergePresenceLocked recomputes each agent's consoles elsewhere and away
// flag from the nodes' presence, and reports whether anything changed.
func (r *Router) mergePresenceLocked() bool {
	now := r.now()
	count := map[string]int{}
	for _, p := range r.nodes {
		for _, ap := range p.Agents {
			count[ap.ID] += ap.Conns
			if a := r.agents[ap.ID]; a != nil && ap.AwayAt.After(a.awayAt) {
				a.away, a.awayAt = ap.Away, ap.AwayAt
			}
		}
	}
	changed := false
	for id, a := range r.agents {
		was := a.status()
		a.elsewhere = count[id]
		switch {
		case a.online():
			a.offlineSince = time.Time{}
		case a.offlineSince.IsZero():
			a.offlineSince = now
		}
		changed = changed || a.status() != was
	}
	return changed
}

// tickCluster repeats this node's presence, forgets silent nodes and old
// stamps, and on the routing node rereads the store every SyncEvery.
func (r *Router) tickCluster(ctx context.Context) {
	if r.peers == nil {
		return
	}
	r.announcePresence()
	now := r.now()
	r.mu.Lock()
	forgot := false
	for id, p := range r.nodes {
		if now.Sub(p.seen) > PresenceTTL {
			delete(r.nodes, id)
			forgot = true
			r.log.Info("assign: no presence from a node for a while; its consoles count as gone", "node", id)
		}
	}
	changed := forgot && r.mergePresenceLocked()
	for id, at := range r.stamps {
		if _, mine := r.owner[id]; !mine && now.Sub(at) > stampsFor && !r.queuedLocked(id) {
			delete(r.stamps, id)
		}
	}
	stale := now.Sub(r.synced) > SyncEvery
	r.mu.Unlock()
	if changed {
		r.publishAgents()
	}
	if stale && r.routing() {
		r.Reconcile(ctx)
	}
}

// Waiting reports whether a conversation waits in this node's queue.
func (r *Router) Waiting(convID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.queuedLocked(convID)
}

func (r *Router) queuedLocked(convID string) bool {
	for _, q := range r.queue {
		if q.conv == convID {
			return true
		}
	}
	return false
}

// Reconcile rereads accounts and open conversations from the store,
// keeping presence, then routes what waits. A node runs it when it takes
// the router's lease, when it is back in touch with the cluster after
// being cut off (it missed announcements), and every SyncEvery while it
// routes.
func (r *Router) Reconcile(ctx context.Context) {
	accts, open, err := r.read()
	if err != nil {
		r.log.Warn("assign: reread the store", "err", err)
		return
	}
	r.mu.Lock()
	seen := map[string]bool{}
	for _, acct := range accts {
		if acct.Disabled {
			continue
		}
		seen[acct.ID] = true
		if a := r.agents[acct.ID]; a != nil {
			a.acct = acct
		} else {
			r.agents[acct.ID] = &agent{acct: acct, offlineSince: r.now()}
		}
	}
	for id := range r.agents {
		if !seen[id] {
			delete(r.agents, id)
		}
	}
	r.mergePresenceLocked()
	old := map[string]queued{}
	for _, q := range r.queue {
		old[q.conv] = q
	}
	owners := r.owner
	r.owner, r.load, r.queue = map[string]string{}, map[string]int{}, nil
	var gained []store.Conversation // assignments this node had missed
	for _, c := range open {
		q := old[c.ID]
		r.applyLocked(c, q.question, q.skill)
		if c.Handler == store.HandlerAgent && owners[c.ID] != c.AgentID {
			gained = append(gained, c)
		}
	}
	r.synced = r.now()
	r.mu.Unlock()
	r.publishAgents()
	if r.OnAssigned != nil {
		for _, c := range gained {
			r.OnAssigned(c.AgentID, c.ID)
		}
	}
	r.drain(ctx)
}
