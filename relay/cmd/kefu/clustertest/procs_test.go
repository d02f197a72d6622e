// Package clustertest runs Kefu as a cluster of real processes — the kefu
// binary with NATS embedded, or beside nats-server processes — behind a
// real HAProxy, and breaks it: kill -9, SIGSTOP, a node joining. Everything
// listens on 127.0.0.1 on free ports; every wait polls with a deadline.
package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"github.com/kefuhq/kefu/relay/internal/testkit"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	kefuBin string // built by TestMain
	natsBin string // built by TestMain, beside kefu
)

// TestMain builds the kefu binary and nats-server (from the module go.mod
// already requires: no binary is committed or downloaded) at the same
// time, before any test starts.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kefu-cluster-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	kefuBin = filepath.Join(dir, "kefu")
	natsBin = filepath.Join(dir, "nats-server")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, b := range []struct{ out, pkg string }{{kefuBin, "../"}, {natsBin, "github.com/nats-io/nats-server/v2"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			build := exec.Command("go", "build", "-o", b.out, b.pkg)
			build.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("build %s: %v\n%s", b.pkg, err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	flag.Parse()
	setWidth()
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t testing.TB) string {
	t.Helper()
	return testkit.FreeAddr(t)
}

// proc is one running process whose output goes to a file.
type proc struct {
	t    *testing.T
	name string
	args []string
	bin  string
	log  string // file with its output, all runs appended
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
}

func newProc(t *testing.T, name, bin string, args ...string) *proc {
	return &proc{t: t, name: name, bin: bin, args: args, log: filepath.Join(t.TempDir(), name+".log")}
}

// start runs the process (again).
func (p *proc) start() {
	p.t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	fmt.Fprintf(f, "\n===== %s start %s\n", time.Now().Format(time.RFC3339Nano), p.name)
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); f.Close(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	p.t.Cleanup(func() { cmd.Process.Signal(syscall.SIGCONT); cmd.Process.Kill(); <-done })
}

func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	cmd.Process.Signal(sig)
}

// kill9 kills the process with SIGKILL and waits for it.
func (p *proc) kill9() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	cmd.Process.Kill()
	<-done
}

// tail is the end of the process's log, for failure messages.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return fmt.Sprintf("--- %s log (end) ---\n%s", p.name, b)
}

// kefuNode is one kefu process.
type kefuNode struct {
	*proc
	addr        string // HTTP
	metricsAddr string // /metrics (off the public port)
	route       string // embedded: NATS route listener
	client      string // embedded: NATS client listener (for the test's checks)
}

func (n *kefuNode) url() string { return "http://" + n.addr }

// ready reports whether /readyz answers 200.
func (n *kefuNode) ready() bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(n.url() + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitReady polls /readyz until it answers 200.
func (n *kefuNode) waitReady(within time.Duration) {
	n.t.Helper()
	deadline := time.Now().Add(within)
	for !n.ready() {
		if !n.running() {
			n.t.Fatalf("%s exited\n%s", n.name, n.tail())
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s not ready within %s\n%s", n.name, within, n.tail())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

var metricRE = regexp.MustCompile(`^([a-z_]+)(\{[^}]*\})? ([0-9.eE+-]+|NaN)$`)

// metrics reads /metrics: "name{labels}" → value.
func (n *kefuNode) metrics() map[string]float64 {
	out := map[string]float64{}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + n.metricsAddr + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := metricRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, _ := strconv.ParseFloat(m[3], 64)
		out[m[1]+m[2]] = v
	}
	return out
}

// streamLeader is the messages stream's leader as the node sees it.
func (n *kefuNode) streamLeader() string {
	for k, v := range n.metrics() {
		if v == 1 && strings.HasPrefix(k, `kefu_cluster_stream_leader{leader="`) {
			return strings.TrimSuffix(strings.TrimPrefix(k, `kefu_cluster_stream_leader{leader="`), `"}`)
		}
	}
	return ""
}

// visitorSockets is how many visitor sockets the node holds.
func (n *kefuNode) visitorSockets() int {
	return int(n.metrics()[`kefu_connections{kind="visitor"}`])
}

// haproxy is the load balancer in front of the nodes.
type haproxy struct {
	*proc
	addr string
}

// needHAProxy skips the test loudly without HAProxy, except in CI
// (.ci/run installs it), where it fails.
func needHAProxy(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("haproxy")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("haproxy is required in CI (.ci/run installs it)")
	}
	t.Skip("\n" + strings.Repeat("#", 72) + "\n# SKIPPED: haproxy is not installed; the cluster tests run behind it\n# (apt-get install haproxy; CI installs it and runs them)\n" + strings.Repeat("#", 72))
	return ""
}

// The load balancer's configuration, as in deploy/cluster/haproxy.cfg:
// round robin, no stickiness; /readyz decides who gets new connections; a
// server marked down has its sockets cut (on-marked-down
// shutdown-sessions) so clients reconnect to a live node at once.
const haproxyCfg = `global
    maxconn 4096
defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    timeout check 1s
    option redispatch
    retries 3
frontend kefu
    bind %s
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
%s`

func startHAProxy(t *testing.T, nodes []*kefuNode) *haproxy {
	t.Helper()
	bin := needHAProxy(t)
	addr := freePort(t)
	var servers bytes.Buffer
	for _, n := range nodes {
		fmt.Fprintf(&servers, "    server %s %s check\n", n.name, n.addr)
	}
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(haproxyCfg, addr, servers.String())), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &haproxy{proc: newProc(t, "haproxy", bin, "-db", "-f", cfg), addr: addr}
	h.start()
	deadline := time.Now().Add(time.Minute)
	for {
		c := http.Client{Timeout: time.Second}
		resp, err := c.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return h
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy not serving: %v\n%s", err, h.tail())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (h *haproxy) ws() string { return "ws://" + h.addr + "/v1/ws" }

func ctxFor(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
