package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/assign"
	"github.com/kefuhq/kefu/relay/internal/auth"
	"github.com/kefuhq/kefu/relay/internal/avail"
	"github.com/kefuhq/kefu/relay/internal/bot"
	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/cluster"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/datadir"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/identity"
	"github.com/kefuhq/kefu/relay/internal/intents"
	"github.com/kefuhq/kefu/relay/internal/mail"
	"github.com/kefuhq/kefu/relay/internal/search"
	"github.com/kefuhq/kefu/relay/internal/secret"
	"github.com/kefuhq/kefu/relay/internal/site"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// clusterParts are what a relay on JetStream runs beside the common parts.
type clusterParts struct {
	node   *cluster.Node
	bus    *cluster.Bus
	link   *cluster.HubLink
	health *cluster.Health
	lease  *cluster.Lease
	// notifyLease elects the node that delivers webhooks (notify.go).
	notifyLease *cluster.Lease
	js          *jetstream.Store
	from        uint64 // the messages stream's last sequence at start: Follow from there
}

// routerRole names the lease of the node that routes the queue.
const routerRole = "router"

// kindSetting is the bus event of a setting saved on a node.
const kindSetting = "settings.changed"

// kindForgetAnswers is the bus event of an erasure on a node: every node
// drops the cached answers to the erased visitors' words (by hash).
const kindForgetAnswers = "ai.cache.forget"

// kindVisitorHere asks the other nodes whether a conversation's visitor
// has it open there (mail to a visitor waits while they do).
const kindVisitorHere = "mail.visitor_here"

// visitorElsewhere reports whether another node has the visitor of convID
// connected (or polling); false on one node, or when nobody answers in 2 s.
func (a *App) visitorElsewhere(convID string) bool {
	if a.cluster == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ok, _ := a.cluster.bus.Request(ctx, kindVisitorHere, settingMsg{Name: convID}, nil)
	return ok
}

type settingMsg struct {
	Name string `json:"name"`
}

// openCluster starts the embedded NATS server (or connects to the
// operator's cluster), opens the JetStream store and the parts that link
// this node to the others.
func (a *App) openCluster(ctx context.Context) error {
	cfg, cl := a.cfg, a.cfg.Cluster
	if err := datadir.Check(cfg.DataDir, datadir.Cluster); err != nil {
		return err
	}
	node, err := cluster.Start(ctx, cfg, a.log)
	if err != nil {
		return err
	}
	c := &clusterParts{node: node}
	a.cluster = c
	c.bus = cluster.NewBus(node, cl.Prefix, a.log)
	c.link = cluster.NewHubLink(node, cl.Prefix, a.log)
	a.hub = hub.NewLinked(c.link)
	a.fan = &chat.Fanout{Hub: a.hub, Metrics: a.metrics, Followed: true}

	replicas := cl.Replicas
	if replicas == 0 && cfg.Mode() == config.ModeEmbedded {
		replicas = 1
		if len(cl.Peers) >= 3 {
			replicas = 3
		}
	}
	if node.Server != nil && !node.Server.JetStreamIsLeader() {
		// Parallel creations of one stream are slow in JetStream: on a new
		// cluster, let the meta leader's node set the store up first.
		waitSetUp(ctx, node, cl.Prefix+"_leases", 30*time.Second)
	}
	st, err := a.openStore(ctx, node, jetstream.Options{
		Prefix: cl.Prefix, Replicas: replicas, OnAppend: a.fan.OnAppend, Logger: a.log,
	})
	if err != nil {
		return err
	}
	c.js = st
	if st.Replicas() < 3 {
		a.log.Warn("cluster: fewer than three copies of each record: losing a node can lose data", "replicas", st.Replicas())
	}
	stream := jetstream.StreamName(cl.Prefix)
	if c.from, err = st.LastSeq(ctx); err != nil {
		return err
	}
	if c.health, err = cluster.NewHealth(node, stream, a.metrics.Registry, a.log); err != nil {
		return err
	}
	c.lease, err = cluster.NewLease(ctx, node, cl.Prefix, st.Replicas(), routerRole, a.routerLease, a.log)
	if err != nil {
		return err
	}
	c.notifyLease, err = cluster.NewLease(ctx, node, cl.Prefix, st.Replicas(), notifierRole, a.notifierLease, a.log)
	if err != nil {
		return err
	}
	if err := a.waitWritable(ctx, st); err != nil {
		return err
	}
	a.store = clusterStore{Store: st, c: c}
	return nil
}

// openStore opens the JetStream store, trying again while JetStream is
// not ready for it. The nodes of a new cluster all create the same stream
// and buckets at once, and JetStream answers such parallel creations
// late, not at all, or with "not found" while one of them is applied;
// opening is idempotent, so a node tries again (after a random pause, so
// the nodes fall out of step) until one creation has gone through.
func (a *App) openStore(ctx context.Context, node *cluster.Node, opts jetstream.Options) (*jetstream.Store, error) {
	ctx, cancel := context.WithTimeout(ctx, cluster.StartTimeout)
	defer cancel()
	for {
		tctx, tcancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := jetstream.Open(tctx, node.Conn, opts)
		tcancel()
		if err == nil {
			return st, nil
		}
		if ctx.Err() != nil || !isTemporary(err) {
			return nil, err
		}
		a.log.Warn("cluster: JetStream is not ready to set up the store; trying again", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(200+rand.IntN(1000)) * time.Millisecond):
		}
	}
}

// waitSetUp waits (at most max) until another node has set the store up:
// the leases bucket is made last.
func waitSetUp(ctx context.Context, node *cluster.Node, bucket string, max time.Duration) {
	js, err := natsjs.New(node.Conn)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, max)
	defer cancel()
	for ctx.Err() == nil {
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		_, err := js.KeyValue(rctx, bucket)
		rcancel()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond): // polling the cluster's state
		}
	}
}

// errCodeNoPeers is JetStream's "no suitable peers for placement": a
// server of a starting cluster is not known to be up yet.
const errCodeNoPeers natsjs.ErrorCode = 10005

// isTemporary reports a JetStream error that goes away once leaders are
// elected and parallel creations applied.
func isTemporary(err error) bool {
	var apiErr *natsjs.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code == 503 || apiErr.Code == 404 || apiErr.ErrorCode == natsjs.JSErrCodeStreamNameInUse ||
			apiErr.ErrorCode == errCodeNoPeers
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, natsjs.ErrNoStreamResponse) ||
		errors.Is(err, natsjs.ErrStreamNotFound) || errors.Is(err, natsjs.ErrBucketNotFound)
}

// waitWritable waits until the store's stream and the buckets the relay
// reads as it starts answer through their leaders: on a new cluster they
// were made a moment ago and elect their leaders now.
func (a *App) waitWritable(ctx context.Context, st *jetstream.Store) error {
	ctx, cancel := context.WithTimeout(ctx, cluster.StartTimeout)
	defer cancel()
	var err error
	for {
		a.cluster.health.Check(ctx)
		if err = a.cluster.health.Ready(); err == nil {
			if _, err = st.Accounts(); err == nil {
				_, err = st.Setting(intents.SettingIntents, new(json.RawMessage))
			}
			if err == nil {
				// The documents bucket too: mail and webhooks read theirs as
				// they start, and a read there timed out once at load 21.
				if _, err = st.Doc("kefu", "startup"); errors.Is(err, store.ErrNotFound) {
					err = nil
				}
			}
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("app: the store's leaders did not answer within %s: %w", cluster.StartTimeout, err)
		case <-time.After(200 * time.Millisecond): // polling the cluster's state
		}
	}
}

// settingKeyID names the secret key the cluster's stored secrets are
// sealed with (its id, which every sealed value shows anyway).
const settingKeyID = "cluster.secret_key_id"

// checkSharedKey refuses to start a node whose secret key is not the one
// the cluster uses: it could neither open what others sealed nor seal
// anything they could open. The first node to start records its key's id.
func (a *App) checkSharedKey(ctx context.Context, k *secret.Key, source string) error {
	var id string
	found, err := a.store.Setting(settingKeyID, &id)
	if err != nil {
		return fmt.Errorf("app: read the cluster's secret key id: %w", err)
	}
	if !found {
		if err := a.store.PutSetting(ctx, settingKeyID, k.ID()); err != nil {
			return fmt.Errorf("app: record the cluster's secret key id: %w", err)
		}
		return nil
	}
	if id != k.ID() {
		return fmt.Errorf("app: this node's secret key (id %s, from %s) is not the cluster's (id %s): every node needs the same key file; copy it from another node (or set the same KEFU_SECRET_KEY)", k.ID(), source, id)
	}
	return nil
}

// linkCluster subscribes the parts that listen to other nodes (once they
// are built, before the relay serves).
func (a *App) linkCluster(ctx context.Context) error {
	c := a.cluster
	if err := c.link.Start(a.hub); err != nil {
		return err
	}
	handlers := map[string]func([]byte, func(any)){
		kindSetting: func(data []byte, _ func(any)) {
			var m settingMsg
			if err := json.Unmarshal(data, &m); err != nil {
				a.log.Warn("app: bad settings event", "err", err)
				return
			}
			go a.reloadSetting(ctx, m.Name)
		},
		kindVisitorHere: func(data []byte, reply func(any)) {
			var m settingMsg
			if json.Unmarshal(data, &m) == nil && a.hub.Listening(chat.VisitorTopic(m.Name), time.Minute) {
				reply(struct{}{})
			}
		},
		kindForgetAnswers: func(data []byte, _ func(any)) {
			var f ai.Forgotten
			if err := json.Unmarshal(data, &f); err != nil {
				a.log.Warn("app: bad forget-answers event", "err", err)
				return
			}
			a.aiCache.ForgetHashed(f)
		},
	}
	for _, hs := range []map[string]func([]byte, func(any)){a.router.PeerHandlers(), a.flow.PeerHandlers(), a.authSvc.PeerHandlers(), a.search.PeerHandlers()} {
		for k, h := range hs {
			handlers[k] = h
		}
	}
	for kind, h := range handlers {
		if err := c.bus.Handle(kind, h); err != nil {
			return err
		}
	}
	c.node.OnRejoin(func() { a.rejoined(ctx) })
	return nil
}

// runCluster starts the cluster's background work: delivering the
// stream's messages to this node's connections, the health checks, the
// router's lease.
func (a *App) runCluster(ctx context.Context) {
	c := a.cluster
	c.health.Check(ctx)
	a.bg.Add(4)
	go func() { defer a.bg.Done(); a.follow(ctx) }()
	go func() { defer a.bg.Done(); c.health.Run(ctx) }()
	go func() { defer a.bg.Done(); c.lease.Run(ctx) }()
	go func() { defer a.bg.Done(); c.notifyLease.Run(ctx) }()
}

// follow delivers every message any node stores, in stream order, to this
// node's connections, resuming where it was after an error.
func (a *App) follow(ctx context.Context) {
	after := a.cluster.from
	for {
		err := a.cluster.js.Follow(ctx, after, func(m store.Message, seq uint64) {
			after = seq
			a.fan.Deliver(m)
			a.search.Deliver(m)
		})
		if ctx.Err() != nil {
			return
		}
		a.log.Warn("cluster: reading the message stream stopped; resuming", "after", after, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// routerLease is told when this node starts or stops routing the queue.
func (a *App) routerLease(held bool) {
	if held && a.router != nil {
		go a.router.Reconcile(context.Background())
	}
}

// rejoined rereads what other nodes may have changed while this node was
// cut off from them.
func (a *App) rejoined(ctx context.Context) {
	a.log.Info("cluster: back in touch with the cluster; rereading what others changed meanwhile")
	// An erasure elsewhere meanwhile could not reach this node's cache of
	// answers: drop them all rather than keep an erased visitor's.
	a.aiCache.Purge()
	for _, name := range []string{intents.SettingIntents, bot.SettingAI, site.SettingWidget, avail.SettingName, mail.SettingName, identity.SettingName} {
		a.reloadSetting(ctx, name)
	}
	a.router.Reconcile(ctx)
	a.search.Rejoined()
}

// forgetAnswers drops cached answers to an erased visitor's words here and,
// in a cluster, on every other node: each keeps its own cache. A node cut
// off meanwhile misses the event and empties its cache when it rejoins
// (rejoined); one that was down starts with an empty one.
func (a *App) forgetAnswers(f ai.Forgotten) {
	a.aiCache.ForgetHashed(f)
	if a.cluster != nil && (len(f.Questions) > 0 || len(f.Scopes) > 0) {
		a.cluster.bus.Publish(kindForgetAnswers, f)
	}
}

// reloadSetting rereads a setting another node saved.
func (a *App) reloadSetting(ctx context.Context, name string) {
	var err error
	switch name {
	case intents.SettingIntents:
		err = a.intents.Reload(ctx)
	case bot.SettingAI:
		err = a.aiSettings.Reload()
	case site.SettingWidget:
		err = a.site.Reload()
	case avail.SettingName:
		err = a.avail.Reload()
	case mail.SettingName:
		err = a.mail.Reload()
	case identity.SettingName:
		err = a.identity.Reload()
	default:
		return
	}
	if err != nil {
		a.log.Error("app: reload a setting changed on another node", "setting", name, "err", err)
	}
}

func (c *clusterParts) close() {
	c.bus.Close()
	c.link.Close()
	c.node.Close()
}

// clusterStore is the JetStream store as the relay's parts use it: saved
// settings are announced to the other nodes, appends are timed.
type clusterStore struct {
	*jetstream.Store
	c *clusterParts
}

// PutSetting stores a setting and tells the other nodes.
func (s clusterStore) PutSetting(ctx context.Context, name string, v any) error {
	if err := s.Store.PutSetting(ctx, name, v); err != nil {
		return err
	}
	s.changed(name)
	return nil
}

// PutSettingBytes stores a setting and tells the other nodes.
func (s clusterStore) PutSettingBytes(ctx context.Context, name string, data []byte) error {
	if err := s.Store.PutSettingBytes(ctx, name, data); err != nil {
		return err
	}
	s.changed(name)
	return nil
}

func (s clusterStore) changed(name string) {
	if name != bot.SettingBudget { // spend travels as ai.spent events
		s.c.bus.Publish(kindSetting, settingMsg{Name: name})
	}
}

// Ready is nil while this node has a JetStream quorum.
func (s clusterStore) Ready(context.Context) error { return s.c.health.Ready() }

// errNoBackup answers a backup request on a cluster node.
var errNoBackup = errors.New("a cluster's data is in JetStream, replicated on its nodes: back it up with JetStream's own tools (nats stream backup, or a copy of a stopped node's data directory), as docs/cluster.md says")

// Backup refuses: the single-node backup is a bbolt file, and a cluster
// has none.
func (s clusterStore) Backup(context.Context, io.Writer) (int64, error) { return 0, errNoBackup }

// Append stores messages and records the time to their ack.
func (s clusterStore) Append(ctx context.Context, convID string, msgs ...store.NewMessage) (store.Appended, error) {
	start := time.Now()
	out, err := s.Store.Append(ctx, convID, msgs...)
	if err == nil {
		s.c.health.ObserveAppend(time.Since(start))
	}
	return out, err
}

// The parts' views of the other nodes; nil on one node.

func (a *App) flowPeers() bot.Peers {
	if a.cluster == nil {
		return nil
	}
	return a.cluster.bus
}

func (a *App) searchPeers() search.Peers {
	if a.cluster == nil {
		return nil
	}
	return a.cluster.bus
}

func (a *App) authPeers() auth.Peers {
	if a.cluster == nil {
		return nil
	}
	return a.cluster.bus
}

func (a *App) routerPeers() assign.Peers {
	if a.cluster == nil {
		return nil
	}
	return routerPeers{Bus: a.cluster.bus, lease: a.cluster.lease}
}

// routerPeers routes the queue while this node holds the router's lease.
type routerPeers struct {
	*cluster.Bus
	lease *cluster.Lease
}

func (p routerPeers) Routing() bool { return p.lease.Held() }
