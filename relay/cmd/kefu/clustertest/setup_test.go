package clustertest

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/secret"
	"github.com/kefuhq/kefu/relay/internal/testkit"
)

const adminPassword = "admin-password-for-cluster-tests"

// relayArgs are every node's flags but the storage ones: generous limits
// (the test's clients all come from one address), quiet logs, the
// cluster's one secret key file, and /metrics on a port of its own.
func relayArgs(addr, metrics, data, keyFile string) []string {
	return []string{"serve", "--addr", addr, "--data", data, "--log-level", "warn", "--admin-password", adminPassword,
		"--secret-key-file", keyFile, "--metrics-addr", metrics,
		"--max-conns-per-ip", "0", "--rate-per-ip", "0", "--rate-per-conn", "1000", "--rate-per-visitor", "1000",
		"--shutdown-timeout", "5s"}
}

// kcluster is kefu nodes (and, in external mode, NATS servers) behind a
// load balancer.
type kcluster struct {
	t     *testing.T
	key   string // the secret key file every node shares
	nodes []*kefuNode
	nats  []*natsNode // external mode only
	peers []string    // embedded: every node's route address
	lb    *haproxy
}

// embedded starts n kefu processes with NATS embedded, all at once as an
// operator would, and waits until every one is ready.
func embedded(t *testing.T, n int) *kcluster {
	t.Helper()
	c := &kcluster{t: t, key: keyFile(t)}
	for range n {
		c.peers = append(c.peers, freePort(t))
	}
	for i := range n {
		c.nodes = append(c.nodes, c.newEmbedded(i, c.peers))
	}
	for _, node := range c.nodes {
		node.start()
	}
	for _, node := range c.nodes {
		node.waitReady(3 * time.Minute)
	}
	return c
}

func (c *kcluster) newEmbedded(i int, peers []string) *kefuNode {
	name := fmt.Sprintf("n%d", i+1)
	n := &kefuNode{addr: freePort(c.t), metricsAddr: freePort(c.t), route: peers[i], client: freePort(c.t)}
	args := append(relayArgs(n.addr, n.metricsAddr, filepath.Join(c.t.TempDir(), name), c.key),
		"--cluster-name", "kefu-test", "--node-name", name, "--cluster-listen", n.route,
		"--cluster-peers", strings.Join(peers, ","), "--nats-listen", n.client)
	n.proc = newProc(c.t, name, kefuBin, args...)
	return n
}

// join starts one more embedded node, listing every node as a peer (the
// running ones learn of it from its routes).
func (c *kcluster) join() *kefuNode {
	c.peers = append(c.peers, freePort(c.t))
	n := c.newEmbedded(len(c.nodes), c.peers)
	c.nodes = append(c.nodes, n)
	return n
}

// natsNode is one nats-server process of an external cluster.
type natsNode struct {
	*proc
	client, route, monitor string
}

func (n *natsNode) healthy() bool {
	cl := http.Client{Timeout: time.Second}
	resp, err := cl.Get("http://" + n.monitor + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// external starts n nats-server processes clustered with JetStream, and
// kefu processes using them by --nats-url.
func external(t *testing.T, servers, relays int) *kcluster {
	t.Helper()
	bin := natsBin
	c := &kcluster{t: t, key: keyFile(t)}
	var routes, urls []string
	for range servers {
		n := &natsNode{client: freePort(t), route: freePort(t), monitor: freePort(t)}
		routes = append(routes, "nats://"+n.route)
		urls = append(urls, "nats://"+n.client)
		c.nats = append(c.nats, n)
	}
	for i, n := range c.nats {
		name := fmt.Sprintf("nats%d", i+1)
		host, port := splitHostPort(n.client)
		_, mport := splitHostPort(n.monitor)
		n.proc = newProc(t, name, bin, "--server_name", name, "-a", host, "-p", port, "-m", mport,
			"-js", "-sd", filepath.Join(t.TempDir(), name), "--cluster_name", "kefu-nats", "--cluster", "nats://"+n.route,
			"--routes", strings.Join(routes, ","))
		n.start()
	}
	for _, n := range c.nats {
		testkit.Eventually(t, n.name+" healthy", 2*time.Minute, n.healthy)
	}
	for i := range relays {
		name := fmt.Sprintf("k%d", i+1)
		n := &kefuNode{addr: freePort(t), metricsAddr: freePort(t)}
		args := append(relayArgs(n.addr, n.metricsAddr, filepath.Join(t.TempDir(), name), c.key),
			"--nats-url", strings.Join(urls, ","), "--node-name", name, "--replicas", "3")
		n.proc = newProc(t, name, kefuBin, args...)
		c.nodes = append(c.nodes, n)
	}
	for _, n := range c.nodes {
		n.start()
	}
	for _, n := range c.nodes {
		n.waitReady(3 * time.Minute)
	}
	return c
}

// keyFile writes a new secret key file for a cluster's nodes to share.
func keyFile(t *testing.T) string {
	_, text := secret.Generate()
	path := filepath.Join(t.TempDir(), "secret.key")
	if err := os.WriteFile(path, []byte(text+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func splitHostPort(addr string) (string, string) {
	i := strings.LastIndex(addr, ":")
	return addr[:i], addr[i+1:]
}

// balance puts HAProxy in front of the kefu nodes.
func (c *kcluster) balance() *haproxy {
	c.lb = startHAProxy(c.t, c.nodes)
	return c.lb
}

// allReady waits until every kefu node is ready (a quorum, and a node
// that was restarted is back).
func (c *kcluster) allReady(within time.Duration) {
	c.t.Helper()
	for _, n := range c.nodes {
		n.waitReady(within)
	}
}

// leader is the node (kefu or NATS) leading the messages stream now.
func (c *kcluster) leader() *proc {
	var name string
	testkit.Eventually(c.t, "a stream leader", time.Minute, func() bool {
		for _, n := range c.nodes {
			if n.running() {
				if name = n.streamLeader(); name != "" {
					return true
				}
			}
		}
		return false
	})
	for _, n := range c.nodes {
		if n.name == name {
			return n.proc
		}
	}
	for _, n := range c.nats {
		if n.name == name {
			return n.proc
		}
	}
	c.t.Fatalf("stream leader %q is none of the processes", name)
	return nil
}

// busiest is the kefu node holding the most visitor sockets.
func (c *kcluster) busiest() *kefuNode {
	best, most := c.nodes[0], -1
	for _, n := range c.nodes {
		if s := n.visitorSockets(); s > most {
			best, most = n, s
		}
	}
	return best
}

// caughtUp waits until every replica of the messages stream is current
// with no lag, as each kefu node sees it.
func (c *kcluster) caughtUp(within time.Duration) {
	c.t.Helper()
	var last map[string]float64
	deadline := time.Now().Add(within)
	for {
		ok := true
		for _, n := range c.nodes {
			m := n.metrics()
			last = m
			if m[`kefu_cluster_peers{state="current"}`] != 3 {
				ok = false
				break
			}
			for k, v := range m {
				if strings.HasPrefix(k, "kefu_cluster_replication_lag{") && v != 0 {
					ok = false
				}
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for k, v := range last {
				if strings.HasPrefix(k, "kefu_cluster") {
					fmt.Fprintf(&b, "%s %v\n", k, v)
				}
			}
			c.t.Fatalf("replicas not caught up within %s:\n%s", within, b.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logs returns every process's log tail, for a failure.
func (c *kcluster) logs() string {
	var b strings.Builder
	var mu sync.Mutex
	add := func(p *proc) { mu.Lock(); b.WriteString(p.tail()); b.WriteString("\n"); mu.Unlock() }
	for _, n := range c.nodes {
		add(n.proc)
	}
	for _, n := range c.nats {
		add(n.proc)
	}
	if c.lb != nil {
		add(c.lb.proc)
	}
	return b.String()
}
