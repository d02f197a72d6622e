// Package assign gives conversations that need a person to agents: smart
// routing (the router package's skill match × load factor) among online
// agents with free capacity, a queue for when nobody can take one, and
// reassignment when an agent has been offline too long. It also keeps the
// agents' presence and load, and tells agent consoles about changes.
package assign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/intents"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/kefuhq/kefu/router"
)

// InboxTopic is the hub topic every agent connection subscribes to: one
// conversation summary per change.
const InboxTopic = "inbox"

// Errors an agent's action can meet. ErrNotOpen and ErrAlreadyTaken are
// the lifecycle's (store/lifecycle.go).
var (
	ErrNotOpen      = store.ErrNotOpen
	ErrNoSuchAgent  = errors.New("no such agent, or they cannot take chats")
	ErrAlreadyTaken = store.ErrAlreadyTaken
)

// agent is one account's live state.
type agent struct {
	acct         store.Account
	conns        int       // consoles connected to this node
	elsewhere    int       // consoles connected to the cluster's other nodes
	away         bool      // keeps their chats, gets no new ones
	awayAt       time.Time // when away last changed: the newest change wins across nodes
	offlineSince time.Time // zero while connected anywhere
	lastAssigned time.Time
}

func (a *agent) online() bool { return a.conns+a.elsewhere > 0 }

func (a *agent) status() string {
	switch {
	case !a.online():
		return protocol.StatusOffline
	case a.away:
		return protocol.StatusAway
	}
	return protocol.StatusOnline
}

// queued is a conversation waiting for a person.
type queued struct {
	conv     string
	question string
	skill    string
}

// StopAI stops an AI answer streaming in a conversation (a person took it).
type StopAI func(convID string)

// Store is what routing needs from the store.
type Store interface {
	Account(id string) (store.Account, error)
	Accounts() ([]store.Account, error)
	Conversation(id string) (store.Conversation, error)
	Visitor(id string) (store.Visitor, error)
	Conversations(keep func(*store.Conversation) bool) ([]store.Conversation, error)
	UpdateConversation(ctx context.Context, id string, fn func(*store.Conversation) error) (store.Conversation, error)
	Append(ctx context.Context, convID string, msgs ...store.NewMessage) (store.Appended, error)
	Messages(convID string, after uint64, limit int) ([]store.Message, error)
}

// Router assigns conversations and tracks agents.
type Router struct {
	store   Store
	hub     *hub.Hub
	intents *intents.Service
	log     *slog.Logger
	stopAI  StopAI
	grace   time.Duration
	now     func() time.Time

	// OnAssigned runs after a conversation was assigned to an agent (their
	// consoles start watching it).
	OnAssigned func(agentID, convID string)
	// Hold, when it reports true, keeps queued conversations in the queue
	// (the admin's away switch: nobody answers now); Tick routes them once
	// it reports false. People may still take them by hand.
	Hold func() bool
	// OnPresence runs after an agent's presence changed (signed in or out,
	// away or back), on whichever node learnt of it.
	OnPresence func()

	peers Peers // nil on one node

	// routingMu makes routing passes one at a time: a pass picks an agent
	// under mu but counts the conversation in their load only after the
	// store took the assignment, so two passes at once could both give
	// the last free place (over capacity).
	routingMu sync.Mutex

	mu     sync.Mutex
	agents map[string]*agent
	queue  []queued
	owner  map[string]string    // open conversation with an agent → the agent
	load   map[string]int       // agent → open conversations they have
	stamps map[string]time.Time // newest change applied per conversation
	nodes  map[string]*presence // the other nodes' consoles (cluster.go)
	synced time.Time            // last Reload from the store

	dirtyMu sync.Mutex
	dirty   map[string]store.Conversation // changed since the last inbox flush
}

// New builds a router; Load fills it from the store. peers connects it to
// the routers of a cluster's other nodes (nil on one node).
func New(st Store, h *hub.Hub, in *intents.Service, log *slog.Logger, stopAI StopAI, grace time.Duration, now func() time.Time, peers Peers) *Router {
	if now == nil {
		now = time.Now
	}
	return &Router{store: st, hub: h, intents: in, log: log, stopAI: stopAI, grace: grace, now: now, peers: peers,
		agents: map[string]*agent{}, owner: map[string]string{}, load: map[string]int{},
		stamps: map[string]time.Time{}, nodes: map[string]*presence{}}
}

// Load rebuilds agents, loads and the queue from the store (at start).
func (r *Router) Load() error {
	accts, open, err := r.read()
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for _, a := range accts {
		if !a.Disabled {
			// Offline since the relay started: their chats move on after the
			// grace period unless they reconnect.
			r.agents[a.ID] = &agent{acct: a, offlineSince: now}
		}
	}
	for _, c := range open {
		r.applyLocked(c, c.Preview, "")
	}
	r.synced = now
	return nil
}

// read loads the accounts and the open conversations, oldest first so the
// queue keeps arrival order.
func (r *Router) read() ([]store.Account, []store.Conversation, error) {
	accts, err := r.store.Accounts()
	if err != nil {
		return nil, nil, fmt.Errorf("assign: load: %w", err)
	}
	open, err := r.store.Conversations(func(c *store.Conversation) bool { return c.Status == store.StatusOpen })
	if err != nil {
		return nil, nil, fmt.Errorf("assign: load: %w", err)
	}
	sort.Slice(open, func(i, j int) bool { return open[i].UpdatedAt.Before(open[j].UpdatedAt) })
	return accts, open, nil
}

// applyLocked makes the router's view of one conversation what c says:
// who has it (load), whether it waits in the queue (keeping its place if
// it already did). question and skill describe a queued conversation for
// routing. It reports whether c newly belongs to an agent.
func (r *Router) applyLocked(c store.Conversation, question, skill string) (newOwner bool) {
	prev, had := r.owner[c.ID]
	if had {
		if r.load[prev]--; r.load[prev] <= 0 {
			delete(r.load, prev)
		}
		delete(r.owner, c.ID)
	}
	if c.UpdatedAt.After(r.stamps[c.ID]) {
		r.stamps[c.ID] = c.UpdatedAt
	}
	open := c.Status == store.StatusOpen
	if !open || c.Handler != store.HandlerQueue {
		r.queue = removeQueued(r.queue, c.ID)
	}
	if !open {
		return false
	}
	switch c.Handler {
	case store.HandlerAgent:
		r.owner[c.ID] = c.AgentID
		r.load[c.AgentID]++
		return !had || prev != c.AgentID
	case store.HandlerQueue:
		if question == "" {
			question = c.Preview
		}
		for i := range r.queue {
			if r.queue[i].conv == c.ID {
				if skill != "" {
					r.queue[i].skill = skill
				}
				return false
			}
		}
		r.queue = append(r.queue, queued{conv: c.ID, question: question, skill: skill})
	}
	return false
}

// routing reports whether this node routes the queue: always on one node;
// in a cluster, the node holding the router's lease.
func (r *Router) routing() bool { return r.peers == nil || r.peers.Routing() }

// Name is an agent's display name ("" if unknown).
func (r *Router) Name(agentID string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a := r.agents[agentID]; a != nil {
		return a.acct.Name
	}
	return ""
}

// Agents lists the agents for consoles, by name.
func (r *Router) Agents() []protocol.AgentInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.agentsLocked()
}

func (r *Router) agentsLocked() []protocol.AgentInfo {
	out := make([]protocol.AgentInfo, 0, len(r.agents))
	for _, a := range r.agents {
		out = append(out, r.infoLocked(a))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *Router) infoLocked(a *agent) protocol.AgentInfo {
	return protocol.AgentInfo{ID: a.acct.ID, Username: a.acct.Username, Name: a.acct.Name, Role: a.acct.Role,
		Status: a.status(), Load: r.load[a.acct.ID], Capacity: a.acct.Capacity}
}

// Online counts the agents online and taking chats now (connected, not
// away): what a visitor handed off is told depends on it.
func (r *Router) Online() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range r.agents {
		if a.status() == protocol.StatusOnline {
			n++
		}
	}
	return n
}

// Info is one agent's view (for their own welcome).
func (r *Router) Info(agentID string) protocol.AgentInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a := r.agents[agentID]; a != nil {
		return r.infoLocked(a)
	}
	return protocol.AgentInfo{ID: agentID, Status: protocol.StatusOffline}
}

// Queued is bot.Flow's OnQueued: a conversation joined the queue.
func (r *Router) Queued(ctx context.Context, conv store.Conversation, question, skill string) {
	r.mu.Lock()
	r.applyLocked(conv, question, skill)
	r.mu.Unlock()
	r.announce(conv, question, skill)
	r.publishInbox(conv)
	r.drain(ctx)
}

// Route assigns queued conversations now: Hold has just let go.
func (r *Router) Route(ctx context.Context) { r.drain(ctx) }

// drain assigns queued conversations, oldest first, while someone can
// take them. In a cluster only the node holding the router's lease does;
// the store's compare-and-set keeps even two routers from assigning one
// conversation twice.
func (r *Router) drain(ctx context.Context) {
	if !r.routing() {
		return
	}
	r.routingMu.Lock()
	defer r.routingMu.Unlock()
	for {
		r.mu.Lock()
		if len(r.queue) == 0 {
			r.mu.Unlock()
			return
		}
		q := r.queue[0]
		id, ok := r.pickLocked(q.question + " " + q.skill)
		if !ok {
			r.mu.Unlock()
			return
		}
		r.queue = r.queue[1:]
		r.mu.Unlock()
		_, err := r.assign(ctx, q.conv, id, store.HandlerQueue, "")
		switch {
		case errors.Is(err, store.ErrNotFound):
			// A conversation erased (privacy) while it waited is simply gone.
		case errors.Is(err, ErrAlreadyTaken), errors.Is(err, ErrNotOpen):
			// Changed elsewhere (another node, a person): take the truth
			// from the store.
			r.refresh(q.conv)
		case err != nil:
			r.log.Error("assign: routing", "conversation", q.conv, "err", err)
			return
		}
	}
}

// pickLocked chooses the agent for a question among those online with room.
func (r *Router) pickLocked(question string) (string, bool) {
	if r.Hold != nil && r.Hold() {
		return "", false
	}
	var cands []router.Agent
	for _, a := range r.agents {
		if load := r.load[a.acct.ID]; a.status() == protocol.StatusOnline && load < a.acct.Capacity {
			cands = append(cands, router.Agent{ID: a.acct.ID, Skills: a.acct.Skills, Load: load, Capacity: a.acct.Capacity, LastAssigned: a.lastAssigned})
		}
	}
	if len(cands) == 0 {
		return "", false
	}
	m, _, _ := r.intents.Model()
	if m == nil {
		// No model to compare skills with: least loaded, then least
		// recently assigned.
		sort.Slice(cands, func(i, j int) bool {
			li, lj := float64(cands[i].Load)/float64(cands[i].Capacity), float64(cands[j].Load)/float64(cands[j].Capacity)
			if li != lj {
				return li < lj
			}
			return cands[i].LastAssigned.Before(cands[j].LastAssigned)
		})
		return cands[0].ID, true
	}
	return m.Route(question, cands)
}

// assign gives conversation convID to agentID if its handler is still
// from (or anything but a closed conversation when from is ""). by names
// who did it for the visitor's message ("" when routed).
func (r *Router) assign(ctx context.Context, convID, agentID, from, by string) (store.Conversation, error) {
	var prev store.Conversation
	conv, err := r.store.UpdateConversation(ctx, convID, func(c *store.Conversation) error {
		prev = *c
		return store.Assign(c, agentID, from)
	})
	if err != nil {
		return store.Conversation{}, err
	}
	r.mu.Lock()
	r.applyLocked(conv, "", "")
	name := ""
	if a := r.agents[agentID]; a != nil {
		a.lastAssigned = r.now()
		name = a.acct.Name
	}
	r.mu.Unlock()
	r.announce(conv, "", "")
	if prev.Handler == store.HandlerBot && r.stopAI != nil {
		r.stopAI(convID)
	}
	if prev.AgentID != agentID {
		// The line names the agent (author_id, never shown to the
		// visitor): the history, exports and the search's agent filter
		// know who had the conversation even if they never wrote in it.
		r.sayAs(ctx, convID, agentID, joinedText(name, r.lang(convID)))
	}
	r.hub.Publish(chat.Topic(convID), chat.ConversationFrame(conv, name))
	r.publishInbox(conv)
	r.publishAgents()
	r.log.Info("assign: conversation assigned", "conversation", convID, "agent", agentID, "by", by)
	if r.OnAssigned != nil {
		r.OnAssigned(agentID, convID)
	}
	return conv, nil
}

func removeQueued(q []queued, convID string) []queued {
	out := q[:0]
	for _, x := range q {
		if x.conv != convID {
			out = append(out, x)
		}
	}
	return out
}

// Take assigns a conversation to the agent asking for it, whoever has it
// (taking over from the AI, the queue, or a colleague).
func (r *Router) Take(ctx context.Context, convID string, by store.Account) (store.Conversation, error) {
	return r.assign(ctx, convID, by.ID, "", by.ID)
}

// Transfer hands a conversation to another agent or ("queue") back to the
// queue.
func (r *Router) Transfer(ctx context.Context, convID, to string, by store.Account) error {
	if to == "queue" {
		return r.requeue(ctx, convID, transferText(r.lang(convID)))
	}
	r.mu.Lock()
	a := r.agents[to]
	ok := a != nil && a.acct.Capacity > 0
	r.mu.Unlock()
	if !ok {
		return ErrNoSuchAgent
	}
	_, err := r.assign(ctx, convID, to, "", by.ID)
	return err
}

// Close ends a conversation.
func (r *Router) Close(ctx context.Context, convID string, by store.Account) error {
	var prev store.Conversation
	conv, err := r.store.UpdateConversation(ctx, convID, func(c *store.Conversation) error {
		prev = *c
		return store.Close(c)
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.applyLocked(conv, "", "")
	r.mu.Unlock()
	r.announce(conv, "", "")
	if prev.Handler == store.HandlerBot && r.stopAI != nil {
		r.stopAI(convID)
	}
	r.say(ctx, convID, closedText(r.lang(convID)))
	r.hub.Publish(chat.Topic(convID), chat.ConversationFrame(conv, r.Name(conv.AgentID)))
	r.publishInbox(conv)
	r.publishAgents()
	r.drain(ctx)
	return nil
}

// requeue puts an open conversation back in the queue with a message.
func (r *Router) requeue(ctx context.Context, convID, text string) error {
	var prev store.Conversation
	conv, err := r.store.UpdateConversation(ctx, convID, func(c *store.Conversation) error {
		prev = *c
		return store.Requeue(c)
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	// To the back of the queue, like a new arrival.
	r.queue = removeQueued(r.queue, convID)
	r.applyLocked(conv, conv.Preview, "")
	r.mu.Unlock()
	r.announce(conv, conv.Preview, "")
	if prev.Handler == store.HandlerBot && r.stopAI != nil {
		r.stopAI(convID)
	}
	r.say(ctx, convID, text)
	r.hub.Publish(chat.Topic(convID), chat.ConversationFrame(conv, ""))
	r.publishInbox(conv)
	r.publishAgents()
	r.drain(ctx)
	return nil
}

// say stores a system message in a conversation.
func (r *Router) say(ctx context.Context, convID, text string) { r.sayAs(ctx, convID, "", text) }

// sayAs stores a system message about an account (authorID).
func (r *Router) sayAs(ctx context.Context, convID, authorID, text string) {
	if _, err := r.store.Append(ctx, convID, store.NewMessage{From: protocol.FromSystem, AuthorID: authorID, Text: text}); err != nil {
		r.log.Error("assign: system message", "conversation", convID, "err", err)
	}
}

// lang is the language of the system messages in a conversation.
func (r *Router) lang(convID string) string { return chat.Lang(r.store, convID) }
