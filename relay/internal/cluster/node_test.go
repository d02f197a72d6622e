package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/testkit"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func freeAddr(t testing.TB) string {
	t.Helper()
	return testkit.FreeAddr(t)
}

func nodeConfig(t testing.TB, name, listen string, peers []string) config.Config {
	return config.Config{DataDir: t.TempDir(), Cluster: config.Cluster{
		Name: "test", NodeName: name, Listen: listen, Peers: peers, Prefix: "kefu",
	}}
}

// startNodes starts n embedded nodes joined in one cluster, all at once as
// an operator would, and closes them when the test ends.
func startNodes(t *testing.T, n int) []*Node {
	t.Helper()
	var peers []string
	for range n {
		peers = append(peers, freeAddr(t))
	}
	nodes := make([]*Node, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			nodes[i], errs[i] = Start(ctx, nodeConfig(t, fmt.Sprintf("n%d", i), peers[i], peers), testLog(t))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		t.Cleanup(func() { nodes[i].Close() })
	}
	return nodes
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, what, within, cond)
}

func TestStartedNodesFormOneJetStreamCluster(t *testing.T) {
	nodes := startNodes(t, 3)
	js, err := jetstream.New(nodes[1].Conn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatalf("an R3 stream on three started nodes: %v", err)
	}
	if got := len(s.CachedInfo().Cluster.Replicas); got != 2 {
		t.Errorf("stream has %d followers, want 2", got)
	}
	for i, n := range nodes {
		if n.Server == nil || n.Server.ClusterAddr() == nil {
			t.Errorf("node %d has no route listener", i)
		}
		if n.ID == n.Name || !strings.HasPrefix(n.ID, n.Name+"-") {
			t.Errorf("node id %q should be its name plus a per-process suffix", n.ID)
		}
	}
}

func TestStartRefusesATakenClusterPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = Start(ctx, nodeConfig(t, "n0", addr, []string{addr}), testLog(t))
	if err == nil || !strings.Contains(err.Error(), "cannot listen on "+addr) {
		t.Fatalf("err = %v, want a clear refusal of the taken port", err)
	}
}

// A node that cannot reach a majority keeps waiting, and says why when
// its caller gives up.
func TestStartWaitsForAMajority(t *testing.T) {
	self, other := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := Start(ctx, nodeConfig(t, "n0", self, []string{self, other, freeAddr(t)}), testLog(t))
	if err == nil || !strings.Contains(err.Error(), "majority of the nodes") {
		t.Fatalf("err = %v, want a timeout naming the missing majority", err)
	}
}

// runServer runs a plain NATS server with a client port, as an operator's
// external cluster would (one server is enough for the connection's
// options).
func runServer(t *testing.T, jetStream bool) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: jetStream, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return s
}

func TestStartExternal(t *testing.T) {
	s := runServer(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := config.Config{Cluster: config.Cluster{NATSURL: s.ClientURL(), NodeName: "ext", Prefix: "kefu"}}
	n, err := Start(ctx, cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.Server != nil {
		t.Error("external mode must not run a server of its own")
	}
	if !n.Conn.IsConnected() || !n.Events.IsConnected() {
		t.Error("connections not up")
	}
}

func TestStartExternalWithoutJetStream(t *testing.T) {
	s := runServer(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := config.Config{Cluster: config.Cluster{NATSURL: s.ClientURL(), NodeName: "ext", Prefix: "kefu"}}
	_, err := Start(ctx, cfg, testLog(t))
	if err == nil || !strings.Contains(err.Error(), "do not run JetStream") {
		t.Fatalf("err = %v, want a clear message about JetStream", err)
	}
}

func TestStartExternalBadCredentials(t *testing.T) {
	s := runServer(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := config.Config{Cluster: config.Cluster{NATSURL: s.ClientURL(), Creds: "/nonexistent/kefu.creds", NodeName: "ext", Prefix: "kefu"}}
	_, err := Start(ctx, cfg, testLog(t))
	if err == nil || !strings.Contains(err.Error(), "kefu.creds") {
		t.Fatalf("err = %v, want the credentials file named", err)
	}
}
