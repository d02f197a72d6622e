// Package metrics defines the relay's Prometheus collectors on a registry
// of its own (no global default registry), served at GET /metrics on
// --metrics-addr or, with --metrics-token, on the main address.
package metrics

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every collector the relay updates.
type Metrics struct {
	Registry *prometheus.Registry

	Connections    *prometheus.GaugeVec   // kind
	ConnectsTotal  *prometheus.CounterVec // kind
	Closes         *prometheus.CounterVec // kind, code
	Refused        *prometheus.CounterVec // reason (origin, per_ip, shutting_down)
	Messages       *prometheus.CounterVec // from
	Acks           *prometheus.CounterVec // duplicate
	FrameErrors    *prometheus.CounterVec // code
	CommitSeconds  prometheus.Histogram
	CommitBatch    prometheus.Histogram
	CommitErrors   prometheus.Counter
	LogMoveSeconds prometheus.Histogram
	LogMoved       prometheus.Counter
	LogEntries     prometheus.Gauge
	InstantAnswers prometheus.Counter
	Handoffs       *prometheus.CounterVec // reason, to (queue, nobody)
}

// New registers every collector, plus the Go runtime and process ones, on a
// fresh registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry:       r,
		Connections:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kefu_connections", Help: "Open WebSocket connections."}, []string{"kind"}),
		ConnectsTotal:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kefu_connections_total", Help: "WebSocket connections accepted."}, []string{"kind"}),
		Closes:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kefu_connection_closes_total", Help: "WebSocket connections ended, by close code (0: dropped without a code)."}, []string{"kind", "code"}),
		Refused:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kefu_connections_refused_total", Help: "WebSocket upgrades refused, by reason."}, []string{"reason"}),
		Messages:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kefu_messages_total", Help: "Messages durably stored, by author kind."}, []string{"from"}),
		Acks:           prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kefu_acks_total", Help: "Acks sent; duplicate=true for resent messages already stored."}, []string{"duplicate"}),
		FrameErrors:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kefu_frame_errors_total", Help: "Client frames refused, by error code."}, []string{"code"}),
		CommitSeconds:  prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kefu_store_commit_seconds", Help: "Time to commit one group of writes (including fsync).", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		CommitBatch:    prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kefu_store_commit_batch_size", Help: "Writes committed together in one transaction.", Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
		CommitErrors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "kefu_store_commit_errors_total", Help: "Transactions that failed to commit (disk full, I/O error)."}),
		LogMoveSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kefu_store_log_move_seconds", Help: "Time one step of moving the message log into the per-conversation tree took (including fsync).", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		LogMoved:       prometheus.NewCounter(prometheus.CounterOpts{Name: "kefu_store_log_moved_total", Help: "Messages moved from the message log into the per-conversation tree."}),
		LogEntries:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "kefu_store_log_entries", Help: "Entries in the message log after its last compaction step, moved ones waiting for deletion included: bounded while moves keep up."}),
		InstantAnswers: prometheus.NewCounter(prometheus.CounterOpts{Name: "kefu_instant_answers_total", Help: "Visitor questions answered by an FAQ intent."}),
		Handoffs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kefu_handoffs_total",
			Help: "Hand-offs from the bot, by reason (asked, model, ai_off, ai_failed, rate_limited, budget, busy, limit) and where to: queue, or nobody (no people here: the bot keeps the chat)."},
			[]string{"reason", "to"}),
	}
	r.MustRegister(m.Connections, m.ConnectsTotal, m.Closes, m.Refused, m.Messages, m.Acks, m.FrameErrors,
		m.CommitSeconds, m.CommitBatch, m.CommitErrors, m.LogMoveSeconds, m.LogMoved, m.LogEntries, m.InstantAnswers, m.Handoffs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveCommit records one store commit; it fits boltdb.Options.OnCommit.
func (m *Metrics) ObserveCommit(writes int, took time.Duration, err error) {
	if err != nil {
		m.CommitErrors.Inc()
		return
	}
	m.CommitSeconds.Observe(took.Seconds())
	m.CommitBatch.Observe(float64(writes))
}

// Opened records a connection accepted.
func (m *Metrics) Opened(kind string) {
	m.Connections.WithLabelValues(kind).Inc()
	m.ConnectsTotal.WithLabelValues(kind).Inc()
}

// Refuse records a connection or request refused, by reason.
func (m *Metrics) Refuse(reason string) { m.Refused.WithLabelValues(reason).Inc() }

// FrameError records a client frame refused, by error code.
func (m *Metrics) FrameError(code string) { m.FrameErrors.WithLabelValues(code).Inc() }

// Ack records an ack sent; duplicate for a resent message already stored.
func (m *Metrics) Ack(duplicate bool) { m.Acks.WithLabelValues(strconv.FormatBool(duplicate)).Inc() }

// MessageStored records a message durably stored, by author kind.
func (m *Metrics) MessageStored(from string) { m.Messages.WithLabelValues(from).Inc() }

// InstantAnswer records a visitor question answered by an FAQ intent.
func (m *Metrics) InstantAnswer() { m.InstantAnswers.Inc() }

// Handoff records a hand-off from the bot, by reason and where to.
func (m *Metrics) Handoff(reason, to string) { m.Handoffs.WithLabelValues(reason, to).Inc() }

// ObserveLogMove records one step of the store's message log compaction;
// it fits boltdb.Options.OnLogCompact.
func (m *Metrics) ObserveLogMove(moved, left int, took time.Duration) {
	m.LogMoveSeconds.Observe(took.Seconds())
	m.LogMoved.Add(float64(moved))
	m.LogEntries.Set(float64(left))
}

// Closed records a connection's end.
func (m *Metrics) Closed(kind string, code int) {
	m.Connections.WithLabelValues(kind).Dec()
	m.Closes.WithLabelValues(kind, strconv.Itoa(code)).Inc()
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// Protect serves h only to requests that carry the bearer token; an empty
// token serves everyone (a listener of its own that the operator keeps
// private).
func Protect(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kefu metrics"`)
			http.Error(w, "metrics need Authorization: Bearer <the --metrics-token>", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
