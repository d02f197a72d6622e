package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// CheckEvery is how often a node checks its view of the cluster. A node
// is ready while its last good check is at most ReadyFor old, so a node
// that was frozen (SIGSTOP) or cut off says so within a few seconds and
// its load balancer sends traffic elsewhere.
const (
	CheckEvery = time.Second
	ReadyFor   = 5 * time.Second
)

// ErrNoQuorum is what readiness reports while JetStream cannot take
// writes from this node.
var ErrNoQuorum = errors.New("no JetStream quorum")

// Health is the node's view of the cluster: whether JetStream answers
// with a majority of the messages stream's replicas behind its leader, and
// the cluster metrics.
type Health struct {
	node   *Node
	js     jetstream.JetStream
	stream string
	log    *slog.Logger
	now    func() time.Time

	ready         prometheus.Gauge
	peers         *prometheus.GaugeVec   // state: current, behind, offline
	lag           *prometheus.GaugeVec   // peer
	streamLeader  *prometheus.GaugeVec   // leader
	metaLeader    *prometheus.GaugeVec   // leader
	leaderChanges *prometheus.CounterVec // group: stream, meta
	appendSeconds prometheus.Histogram

	mu        sync.Mutex
	okAt      time.Time
	lastErr   error
	leaders   map[string]string // group → last leader seen
	checkedAt time.Time
	readyWas  bool // the last check's outcome
	wasReady  bool // some check succeeded before
}

// NewHealth registers the cluster metrics on reg. stream is the name of
// the messages stream whose replicas stand for the cluster's health.
func NewHealth(n *Node, stream string, reg prometheus.Registerer, log *slog.Logger) (*Health, error) {
	js, err := jetstream.New(n.Conn)
	if err != nil {
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	h := &Health{
		node: n, js: js, stream: stream, log: log, now: time.Now, leaders: map[string]string{},
		ready: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kefu_cluster_ready",
			Help: "1 while JetStream takes writes from this node (a quorum of the messages stream's replicas), else 0."}),
		peers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kefu_cluster_peers",
			Help: "Replicas of the messages stream by state: current (the leader and followers in step), behind (catching up), offline."}, []string{"state"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kefu_cluster_replication_lag",
			Help: "Operations a follower replica of the messages stream is behind its leader."}, []string{"peer"}),
		streamLeader: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kefu_cluster_stream_leader",
			Help: "1 for the server that leads the messages stream now."}, []string{"leader"}),
		metaLeader: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kefu_cluster_meta_leader",
			Help: "1 for the server that leads JetStream's meta group now (embedded cluster only)."}, []string{"leader"}),
		leaderChanges: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kefu_cluster_leader_changes_total",
			Help: "Leader changes this node saw: of the messages stream, and of the meta group (embedded only)."}, []string{"group"}),
		appendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kefu_cluster_append_seconds",
			Help:    "Time from an append to its ack: JetStream's quorum publish and the conversation record's update.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16)}),
	}
	if err := reg.Register(h.ready); err != nil {
		return nil, err
	}
	for _, c := range []prometheus.Collector{h.peers, h.lag, h.streamLeader, h.metaLeader, h.leaderChanges, h.appendSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// ObserveAppend records one append's time to its ack.
func (h *Health) ObserveAppend(took time.Duration) { h.appendSeconds.Observe(took.Seconds()) }

// Ready is nil while the node's last good check is recent.
func (h *Health) Ready() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.okAt.IsZero() || h.now().Sub(h.okAt) > ReadyFor {
		if h.lastErr != nil {
			return fmt.Errorf("%w: %v", ErrNoQuorum, h.lastErr)
		}
		return ErrNoQuorum
	}
	return nil
}

// Run checks every CheckEvery until ctx ends.
func (h *Health) Run(ctx context.Context) {
	t := time.NewTicker(CheckEvery)
	defer t.Stop()
	for {
		h.Check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check looks at the cluster once and updates readiness and metrics.
func (h *Health) Check(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := h.check(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	// A check long after the one before means this process was frozen
	// (SIGSTOP, a stalled VM): it missed what the others said meanwhile.
	gap := !h.checkedAt.IsZero() && now.Sub(h.checkedAt) > ReadyFor
	h.checkedAt = now
	h.lastErr = err
	ok := err == nil
	if ok {
		h.okAt = now
		h.ready.Set(1)
	} else {
		h.ready.Set(0)
	}
	if ok && h.wasReady && (!h.readyWas || gap) {
		h.node.rejoined()
	}
	if ok != h.readyWas {
		if ok {
			h.log.Info("cluster: JetStream quorum reached: ready", "node", h.node.Name)
		} else {
			h.log.Warn("cluster: no JetStream quorum: not ready", "node", h.node.Name, "err", err)
		}
	}
	h.readyWas = ok
	h.wasReady = h.wasReady || ok
}

func (h *Health) check(ctx context.Context) error {
	if h.node.Server != nil {
		h.checkMeta()
	}
	if _, err := h.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("JetStream does not answer: %w", err)
	}
	st, err := h.js.Stream(ctx, h.stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", h.stream, err)
	}
	info := st.CachedInfo()
	cl := info.Cluster
	h.peers.Reset()
	h.lag.Reset()
	h.streamLeader.Reset()
	if cl == nil || info.Config.Replicas <= 1 {
		h.peers.WithLabelValues("current").Set(1)
		return nil
	}
	if cl.Leader == "" {
		return fmt.Errorf("stream %s has no leader", h.stream)
	}
	h.noteLeader("stream", cl.Leader)
	h.streamLeader.WithLabelValues(cl.Leader).Set(1)
	current, behind, offline := 1, 0, 0 // the leader is current
	for _, p := range cl.Replicas {
		h.lag.WithLabelValues(p.Name).Set(float64(p.Lag))
		switch {
		case p.Offline:
			offline++
		case p.Current:
			current++
		default:
			behind++
		}
	}
	h.peers.WithLabelValues("current").Set(float64(current))
	h.peers.WithLabelValues("behind").Set(float64(behind))
	h.peers.WithLabelValues("offline").Set(float64(offline))
	if quorum := info.Config.Replicas/2 + 1; current < quorum {
		return fmt.Errorf("stream %s: %d of %d replicas current, %d needed", h.stream, current, info.Config.Replicas, quorum)
	}
	return nil
}

// checkMeta reads the embedded server's view of the meta group.
func (h *Health) checkMeta() {
	jsz, err := h.node.Server.Jsz(&server.JSzOptions{})
	if err != nil || jsz.Meta == nil {
		return
	}
	h.metaLeader.Reset()
	if jsz.Meta.Leader != "" {
		h.metaLeader.WithLabelValues(jsz.Meta.Leader).Set(1)
		h.noteLeader("meta", jsz.Meta.Leader)
	}
}

// noteLeader counts a leader change (not the first leader seen).
func (h *Health) noteLeader(group, leader string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if prev, ok := h.leaders[group]; ok && prev != leader {
		h.leaderChanges.WithLabelValues(group).Inc()
		h.log.Info("cluster: new leader", "group", group, "leader", leader, "was", prev)
	}
	h.leaders[group] = leader
}
