// Package cluster runs a Kefu node as one of several on NATS JetStream: the
// NATS server embedded in the process (or the connection to a NATS cluster
// the operator runs), the node's health as the cluster sees it, the bus
// that carries live events between nodes (hub frames, presence, routing,
// AI streams), and the lease that elects one node to route the queue.
//
// What is stored goes through the JetStream store (store/jetstream); this
// package carries only what is not stored, at most once, and repairs what
// a lost event leaves behind from the store (docs/cluster.md).
package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/datadir"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StartTimeout bounds how long a node waits at start for JetStream to
// answer (a meta leader elected among a majority of the nodes). Nodes of a
// new cluster start in any order, so the first ones wait for the others.
const StartTimeout = 5 * time.Minute

// Node is this process's place in the cluster: the embedded NATS server
// (nil with an external cluster) and the two connections to it.
type Node struct {
	// Name is the node's name (--node-name): the embedded server's name,
	// shown in metrics and logs.
	Name string
	// ID tells this process apart from every other, including an earlier
	// run of the same node: it addresses bus requests and holds leases.
	ID string
	// Server is the embedded NATS server; nil in external mode.
	Server *server.Server
	// Conn carries the store's JetStream traffic.
	Conn *nats.Conn
	// Events carries the bus (no echo: a node never hears itself).
	Events *nats.Conn

	log *slog.Logger

	mu          sync.Mutex
	reconnected []func()
}

// OnRejoin registers fn to run (on its own goroutine) each time this node
// is back in touch with the cluster after being cut off — its events
// connection came back, or JetStream has a quorum again: whatever the bus
// carried meanwhile was missed, so listeners reload what they keep.
func (n *Node) OnRejoin(fn func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.reconnected = append(n.reconnected, fn)
}

func (n *Node) rejoined() {
	n.mu.Lock()
	fns := append([]func(){}, n.reconnected...)
	n.mu.Unlock()
	for _, fn := range fns {
		go fn()
	}
}

// Start runs the embedded server (embedded mode) or connects to the
// operator's cluster (external mode), then waits until JetStream answers.
// dataDir is --data; the embedded server keeps JetStream under
// dataDir/nats (datadir.NATSDir).
func Start(ctx context.Context, cfg config.Config, log *slog.Logger) (*Node, error) {
	cl := cfg.Cluster
	n := &Node{Name: cl.NodeName, ID: cl.NodeName + "-" + strings.ToLower(rand.Text()[:6]), log: log}
	var opts []nats.Option
	var urls string
	switch cfg.Mode() {
	case config.ModeEmbedded:
		s, err := startServer(cfg, log)
		if err != nil {
			return nil, err
		}
		n.Server = s
		opts = append(opts, nats.InProcessServer(s))
	case config.ModeExternal:
		urls = cl.NATSURL
		var err error
		if opts, err = externalOptions(cl); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("cluster: no cluster configured")
	}
	fail := func(err error) (*Node, error) { n.Close(); return nil, err }
	var err error
	if n.Conn, err = n.connect(urls, "store", opts...); err != nil {
		return fail(err)
	}
	if n.Events, err = n.connect(urls, "events", append(opts, nats.NoEcho())...); err != nil {
		return fail(err)
	}
	if err := n.waitJetStream(ctx); err != nil {
		return fail(err)
	}
	return n, nil
}

func (n *Node) connect(urls, role string, opts ...nats.Option) (*nats.Conn, error) {
	opts = append(opts,
		nats.Name("kefu "+n.Name+" "+role),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.PingInterval(5*time.Second), nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			n.log.Warn("cluster: lost the NATS connection; reconnecting", "conn", role, "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			n.log.Info("cluster: NATS connection back", "conn", role, "server", c.ConnectedServerName())
			if role == "events" {
				n.rejoined()
			}
		}),
	)
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to NATS %s: %w", redact(urls), err)
	}
	return nc, nil
}

// waitJetStream polls until JetStream answers an account info request,
// which needs a meta leader: a majority of the cluster's servers up.
func (n *Node) waitJetStream(ctx context.Context) error {
	js, err := jetstream.New(n.Conn)
	if err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	start, said := time.Now(), time.Now()
	// A request made before the node knows the meta leader goes
	// unanswered: ask again soon, waiting longer each time (a loaded
	// cluster answers slowly).
	wait := 250 * time.Millisecond
	for {
		actx, acancel := context.WithTimeout(ctx, wait)
		_, err := js.AccountInfo(actx)
		acancel()
		wait = min(2*wait, 2*time.Second)
		if err == nil {
			n.log.Info("cluster: JetStream is up", "node", n.Name, "waited", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return fmt.Errorf("cluster: the NATS servers do not run JetStream (or not for this account): %w", err)
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			return fmt.Errorf("cluster: stopped while waiting for JetStream: %w", ctx.Err())
		}
		if ctx.Err() != nil {
			return fmt.Errorf("cluster: JetStream did not answer in time (are a majority of the nodes up and reachable?): %w", err)
		}
		if time.Since(said) > 10*time.Second {
			said = time.Now()
			n.log.Warn("cluster: waiting for JetStream: a majority of the nodes must be up", "node", n.Name, "routes", n.routes(), "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond): // polling the cluster's state, not waiting for time to pass
		}
	}
}

// routes is how many other nodes the embedded server is connected to (-1
// in external mode).
func (n *Node) routes() int {
	if n.Server == nil {
		return -1
	}
	return n.Server.NumRoutes()
}

// Close closes the connections, then shuts the embedded server down
// (which flushes JetStream to disk).
func (n *Node) Close() error {
	for _, c := range []*nats.Conn{n.Events, n.Conn} {
		if c != nil {
			c.Drain()
			c.Close()
		}
	}
	if n.Server != nil {
		n.Server.Shutdown()
		n.Server.WaitForShutdown()
	}
	return nil
}

func startServer(cfg config.Config, log *slog.Logger) (*server.Server, error) {
	cl := cfg.Cluster
	host, port, err := hostPort(cl.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster: --cluster-listen %q: %w", cl.Listen, err)
	}
	routes := make([]*url.URL, 0, len(cl.Peers))
	for _, p := range cl.Peers {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: p})
	}
	opts := &server.Options{
		ServerName: cl.NodeName,
		JetStream:  true,
		StoreDir:   filepath.Join(cfg.DataDir, datadir.NATSDir),
		SyncAlways: cl.SyncAlways,
		NoSigs:     true,
		// The server's routes start only once its client listener is up
		// (DontListen would keep them down), so without --nats-listen it
		// listens on a random loopback port nobody is told about; this
		// process talks to it in-process.
		Host:    "127.0.0.1",
		Port:    server.RANDOM_PORT,
		Cluster: server.ClusterOpts{Name: cl.Name, Host: host, Port: port, NoAdvertise: true},
		// Configured routes are retried for ever, once a second: a restarted
		// peer is back in the cluster within a second or two.
		Routes: routes,
	}
	if cl.NATSListen != "" {
		if opts.Host, opts.Port, err = hostPort(cl.NATSListen); err != nil {
			return nil, fmt.Errorf("cluster: --nats-listen %q: %w", cl.NATSListen, err)
		}
	}
	// The server would wait for a port in use and then only log it: try it
	// first, for a clear error at once.
	for _, addr := range []string{cl.Listen, cl.NATSListen} {
		if addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("cluster: cannot listen on %s (in use by another process?): %w", addr, err)
		}
		ln.Close()
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: NATS server: %w", err)
	}
	s.SetLoggerV2(serverLog{log.With("nats", cl.NodeName)}, false, false, false)
	s.Start()
	if !s.ReadyForConnections(30*time.Second) || s.ClusterAddr() == nil {
		s.Shutdown()
		return nil, fmt.Errorf("cluster: the embedded NATS server could not listen on --cluster-listen %s (in use by another process?)", cl.Listen)
	}
	return s, nil
}

func hostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, err
	}
	if h == "" {
		h = "0.0.0.0"
	}
	return h, port, nil
}

func externalOptions(cl config.Cluster) ([]nats.Option, error) {
	var opts []nats.Option
	if cl.Creds != "" {
		opts = append(opts, nats.UserCredentials(cl.Creds))
	}
	if cl.CA != "" {
		opts = append(opts, nats.RootCAs(cl.CA))
	}
	if cl.Cert != "" {
		opts = append(opts, nats.ClientCert(cl.Cert, cl.Key))
	}
	return opts, nil
}

// redact hides credentials in URLs for messages.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = url.User("******")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// serverLog passes the embedded server's log to slog. Its notices (routes
// coming and going, elections) are debug detail for a Kefu operator; the
// cluster's state is in /metrics and in Kefu's own log lines.
type serverLog struct{ l *slog.Logger }

func (s serverLog) Noticef(f string, v ...any) { s.l.Debug(fmt.Sprintf(f, v...)) }
func (s serverLog) Warnf(f string, v ...any)   { s.l.Warn(fmt.Sprintf(f, v...)) }
func (s serverLog) Fatalf(f string, v ...any)  { s.l.Error(fmt.Sprintf(f, v...)) }
func (s serverLog) Errorf(f string, v ...any)  { s.l.Error(fmt.Sprintf(f, v...)) }
func (s serverLog) Debugf(f string, v ...any)  { s.l.Debug(fmt.Sprintf(f, v...)) }
func (s serverLog) Tracef(string, ...any)      {}
