// Package natstest runs real NATS servers with JetStream inside a test
// process: one server, or a cluster of several joined by routes on
// loopback. Everything binds 127.0.0.1 on free ports and lives in the
// test's temporary directory; servers shut down when the test ends.
package natstest

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/testkit"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Options shape the servers started.
type Options struct {
	// SyncAlways makes JetStream fsync every write before acknowledging it
	// (the server's sync_interval: always). Default: the server's periodic
	// sync (every 2 minutes), with writes acknowledged from the page cache.
	SyncAlways bool
}

// Cluster is a set of running servers.
type Cluster struct {
	Servers []*server.Server
	t       testing.TB
}

// Run starts one JetStream server (not clustered).
func Run(t testing.TB, o Options) *Cluster {
	t.Helper()
	s := start(t, serverOptions(t, "n0", o))
	c := &Cluster{Servers: []*server.Server{s}, t: t}
	return c
}

// RunCluster starts n servers joined in one cluster and waits until
// JetStream has a meta leader that every server follows.
func RunCluster(t testing.TB, n int, o Options) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	// JetStream needs every server configured with its routes, so the
	// route ports are chosen before any server starts.
	ports := freePorts(t, n)
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	for i := range n {
		opts := serverOptions(t, fmt.Sprintf("n%d", i), o)
		opts.Cluster = server.ClusterOpts{Name: "kefu-test", Host: "127.0.0.1", Port: ports[i]}
		opts.Routes = routes
		// A clustered server is ready only once JetStream has its peers, so
		// all are started before any is waited for.
		c.Servers = append(c.Servers, launch(t, opts))
	}
	for _, s := range c.Servers {
		waitReady(t, s)
	}
	c.WaitForLeader()
	return c
}

func serverOptions(t testing.TB, name string, o Options) *server.Options {
	return &server.Options{
		ServerName: name,
		Host:       "127.0.0.1",
		Port:       -1,
		NoLog:      os.Getenv("NATSTEST_LOG") == "",
		Trace:      false,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   filepath.Join(t.TempDir(), name),
		SyncAlways: o.SyncAlways,
	}
}

func start(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	s := launch(t, opts)
	waitReady(t, s)
	return s
}

func launch(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("natstest: new server %s: %v", opts.ServerName, err)
	}
	if !opts.NoLog {
		s.ConfigureLogger()
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func waitReady(t testing.TB, s *server.Server) {
	t.Helper()
	if !s.ReadyForConnections(time.Minute) {
		t.Fatalf("natstest: server %s not ready within a minute", s.Name())
	}
}

// freePorts finds n loopback ports nothing listens on, none handed out
// before in this process (testkit.FreePort).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	out := make([]int, n)
	for i := range out {
		out[i] = testkit.FreePort(t)
	}
	return out
}

// WaitForLeader waits (up to a minute: a loaded box elects slowly) until
// the running servers agree on a JetStream meta leader.
func (c *Cluster) WaitForLeader() {
	c.t.Helper()
	if len(c.Servers) == 1 {
		return
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		leaders, current, peers := 0, 0, 0
		for _, s := range c.Servers {
			if !s.Running() {
				continue
			}
			if s.JetStreamIsLeader() {
				leaders++
				peers = len(s.JetStreamClusterPeers()) // only the leader knows
			}
			if s.JetStreamIsCurrent() {
				current++
			}
		}
		if leaders == 1 && current == c.running() && peers == c.running() {
			return
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	c.t.Fatalf("natstest: no JetStream meta leader among %d servers within a minute", len(c.Servers))
}

func (c *Cluster) running() int {
	n := 0
	for _, s := range c.Servers {
		if s.Running() {
			n++
		}
	}
	return n
}

// URL is the client URL of server i.
func (c *Cluster) URL(i int) string { return c.Servers[i].ClientURL() }

// URLs are every server's client URL, comma-separated (nats.Connect's form).
func (c *Cluster) URLs() string {
	u := ""
	for i, s := range c.Servers {
		if i > 0 {
			u += ","
		}
		u += s.ClientURL()
	}
	return u
}

// Connect opens a client connection to server i, closed when the test
// ends. It stays on that server unless it dies (then it may fail over to
// another, as a node's own connection would).
func (c *Cluster) Connect(i int) *nats.Conn {
	c.t.Helper()
	// The client's default connect timeout is 2 s: a dial to a server in
	// this process took longer at load 35 and failed a whole suite.
	nc, err := nats.Connect(c.URL(i), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.DontRandomize(),
		nats.Timeout(time.Minute))
	if err != nil {
		c.t.Fatalf("natstest: connect to %s: %v", c.URL(i), err)
	}
	c.t.Cleanup(nc.Close)
	return nc
}
