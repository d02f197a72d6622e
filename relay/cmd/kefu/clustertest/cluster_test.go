package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/testkit"
	"github.com/kefuhq/kefu/relay/protocol"
)

// The tests run two at a time (turns.take: -parallel, the core count,
// at a time, in longestFirst's order), each on its own cluster and ports:
// the kill cycles and the 30 s freeze mostly wait on elections and
// restarts, so two clusters share the box well and the package takes
// about as long as its longest test.

// External mode: three nats-server processes built from the module in
// go.mod, three kefu nodes on them by --nats-url; the same node loss,
// killing NATS servers and kefu nodes.
func TestExternalNodeLoss(t *testing.T) {
	turns.take(t)
	needHAProxy(t)
	c := external(t, 3, 3)
	lb := c.balance()
	tr := startTraffic(t, lb.ws(), 4)
	tr.progress("first acks", 20, time.Minute)
	lossCycles(t, c, tr, c.nodes)
	total := tr.finish(lb.ws())
	c.caughtUp(time.Minute)
	t.Logf("external: %d kill -9 cycles, %d messages acked, %d of %d senders moved, none lost or doubled", cycles, total, tr.moved(), len(tr.senders))
}

// A visitor and an agent reach different nodes through the load
// balancer; their messages cross both ways, in one order for both.
func TestThroughTheLoadBalancer(t *testing.T) {
	turns.take(t)
	needHAProxy(t)
	c := embedded(t, 3)
	lb := c.balance()

	var mu sync.Mutex
	var got []protocol.Message
	ctx, cancel := ctxFor(3 * time.Minute)
	defer cancel()
	v, err := client.Dial(ctx, client.Options{URL: lb.ws(), OnMessage: func(m protocol.Message) { mu.Lock(); got = append(got, m); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	_, conv, _ := v.State()
	visitorOn := ""
	for _, n := range c.nodes {
		if n.visitorSockets() == 1 {
			visitorOn = n.name
		}
	}

	// The admin signs in and opens the console through the balancer, until
	// the console lands on another node than the visitor (round robin).
	jar, _ := cookiejar.New(nil)
	web := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	req, _ := http.NewRequest("POST", "http://"+lb.addr+"/v1/auth/login", strings.NewReader(fmt.Sprintf(`{"username":"admin","password":%q}`, adminPassword)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://"+lb.addr)
	resp, err := web.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("login through the balancer: %v %v", err, resp)
	}
	resp.Body.Close()
	var con *websocket.Conn
	for try := 0; ; try++ {
		h := http.Header{"Origin": {"http://" + lb.addr}}
		for _, ck := range jar.Cookies(mustURL("http://" + lb.addr)) {
			h.Add("Cookie", ck.Name+"="+ck.Value)
		}
		con, _, err = websocket.Dial(ctx, "ws://"+lb.addr+"/v1/agent/ws", &websocket.DialOptions{HTTPHeader: h})
		if err != nil {
			t.Fatalf("agent socket through the balancer: %v", err)
		}
		agentOn := ""
		testkit.Eventually(t, "the agent socket counted", 30*time.Second, func() bool {
			for _, n := range c.nodes {
				if n.metrics()[`kefu_connections{kind="agent"}`] == 1 {
					agentOn = n.name
					return true
				}
			}
			return false
		})
		if agentOn != visitorOn {
			t.Logf("visitor on %s, agent on %s", visitorOn, agentOn)
			break
		}
		if try == 5 {
			t.Fatal("the balancer keeps putting the agent on the visitor's node")
		}
		con.CloseNow()
		testkit.Eventually(t, "the agent socket gone", 30*time.Second, func() bool {
			for _, n := range c.nodes {
				if n.metrics()[`kefu_connections{kind="agent"}`] != 0 {
					return false
				}
			}
			return true
		})
	}
	defer con.CloseNow()
	con.SetReadLimit(1 << 22)
	frames := make(chan map[string]any, 1024)
	go func() {
		for {
			_, data, err := con.Read(context.Background())
			if err != nil {
				close(frames)
				return
			}
			var m map[string]any
			json.Unmarshal(data, &m)
			frames <- m
		}
	}()
	write := func(s string) {
		if err := con.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"type":"hello"}`)
	// Every frame the agent got, in order; await looks at all of them.
	var history []map[string]any
	await := func(ok func(map[string]any) bool) map[string]any {
		t.Helper()
		for i := 0; ; i++ {
			for ; i < len(history); i++ {
				if ok(history[i]) {
					return history[i]
				}
			}
			select {
			case m, open := <-frames:
				if !open {
					t.Fatal("agent socket closed")
				}
				history = append(history, m)
				i--
			case <-time.After(30 * time.Second):
				t.Fatalf("timed out waiting on the agent socket after %d frames\n%s", len(history), c.logs())
			}
		}
	}
	await(func(m map[string]any) bool { return m["type"] == "welcome" })
	if _, err := v.Send(ctx, "I would like to talk to a person"); err != nil {
		t.Fatal(err)
	}
	await(func(m map[string]any) bool { return m["type"] == "message" && m["from"] == "visitor" })
	for i := range 10 {
		if _, err := v.Send(ctx, fmt.Sprintf("visitor %d", i)); err != nil {
			t.Fatal(err)
		}
		write(fmt.Sprintf(`{"type":"message","conversation_id":%q,"id":"a%d","text":"agent %d"}`, conv, i, i))
		await(func(m map[string]any) bool { return m["type"] == "ack" && m["id"] == fmt.Sprintf("a%d", i) })
	}
	testkit.Eventually(t, "the visitor got the agent's last reply", 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0 && got[len(got)-1].Text == "agent 9"
	})
	mu.Lock()
	last := got[len(got)-1].Seq
	for i, m := range got {
		if m.Seq != uint64(i+1) {
			t.Fatalf("the visitor got seq %d at position %d", m.Seq, i)
		}
	}
	mu.Unlock()
	await(func(m map[string]any) bool { return m["type"] == "message" && m["seq"] == float64(last) })
	var seqs []float64
	for _, m := range history {
		if m["type"] == "message" && m["conversation_id"] == conv {
			seqs = append(seqs, m["seq"].(float64))
		}
	}
	for i, seq := range seqs {
		if seq != float64(i+1) {
			t.Fatalf("the agent got seqs %v: want each once, in order", seqs)
		}
	}
}

// kill -9 a node at a time — the stream leader, the node with the most
// visitor sockets, any — under continuous traffic from several senders;
// each killed node restarts and rejoins.
func TestNodeLoss(t *testing.T) {
	turns.take(t)
	needHAProxy(t)
	c := embedded(t, 3)
	lb := c.balance()
	tr := startTraffic(t, lb.ws(), 4)
	tr.progress("first acks", 20, time.Minute)
	lossCycles(t, c, tr, c.nodes)
	start := time.Now()
	total := tr.finish(lb.ws())
	c.caughtUp(time.Minute)
	t.Logf("read back and checked in %s", time.Since(start).Round(time.Millisecond))
	t.Logf("%d kill -9 cycles, %d messages acked, %d of %d senders moved to another node, none lost or doubled", cycles, total, tr.moved(), len(tr.senders))
	if tr.moved() == 0 {
		t.Error("no sender was ever moved to another node: the kills missed every socket")
	}
}

// cycles of kill -9; the issue asks for at least ten.
const cycles = 10

// lossCycles kills one process at a time from victims (kefu nodes in the
// embedded cluster; NATS servers and kefu nodes in external mode), and
// restarts it a moment later; the next kill waits until every node is
// ready again. JetStream elects new leaders for what the dead node led
// after its election timeout (4 to 9 s): writes to those groups wait that
// long, then go on. The first cycle shows the survivors taking writes
// while the node is still dead; the others do not wait for it, so ten
// cycles stay short.
func lossCycles(t *testing.T, c *kcluster, tr *traffic, kefu []*kefuNode) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	start := tr.acks.Load()
	for cycle := range cycles {
		time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond) // traffic flows between kills
		var victim *proc
		why := "random"
		switch {
		case cycle%3 == 0:
			victim, why = c.leader(), "stream leader"
		case cycle%3 == 1:
			victim, why = c.busiest().proc, "most visitor sockets"
		case len(c.nats) > 0 && rng.IntN(2) == 0:
			victim = c.nats[rng.IntN(len(c.nats))].proc
		default:
			victim = kefu[rng.IntN(len(kefu))].proc
		}
		before := tr.acks.Load()
		victim.kill9()
		killed := time.Now()
		t.Logf("cycle %d: killed %s (%s) with %d messages acked", cycle, victim.name, why, before)
		if cycle == 0 {
			tr.progress("acks while the killed node is still dead", 5, 90*time.Second)
			t.Logf("cycle 0: the survivors acked again %s after the kill", time.Since(killed).Round(time.Millisecond))
		} else {
			time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond) // the others carry on alone
		}
		victim.start()
		for _, n := range c.nats {
			testkit.Eventually(t, n.name+" healthy", 2*time.Minute, n.healthy)
		}
		c.allReady(2 * time.Minute)
		t.Logf("cycle %d: %s back, every node ready, %s after the kill", cycle, victim.name, time.Since(killed).Round(time.Millisecond))
	}
	tr.progress("acks after the last restart", 5, 90*time.Second)
	if got := tr.acks.Load() - start; got < cycles*5 {
		t.Errorf("only %d acks over %d cycles: the cluster hardly took writes", got, cycles)
	}
}

// One node frozen (SIGSTOP) for 30 s while traffic continues: the others
// keep acking; the frozen node acks nothing meanwhile, and once resumed it
// repairs itself — nothing lost or doubled.
func TestSplit(t *testing.T) {
	turns.take(t)
	needHAProxy(t)
	c := embedded(t, 3)
	lb := c.balance()
	tr := startTraffic(t, lb.ws(), 4)
	tr.progress("first acks", 20, time.Minute)
	frozen := c.leader() // the hardest case: the majority must elect a new one
	var node *kefuNode
	for _, n := range c.nodes {
		if n.proc == frozen {
			node = n
		}
	}
	frozen.signal(syscall.SIGSTOP)
	start := time.Now()
	at := tr.acks.Load()
	t.Logf("froze %s (stream leader) with %d acked", frozen.name, at)
	// The majority elects a leader and goes on.
	tr.progress("acks from the majority while one node is frozen", 20, 90*time.Second)
	for _, n := range c.nodes {
		if n != node {
			testkit.Eventually(t, n.name+" ready without the frozen node", 90*time.Second, n.ready)
		}
	}
	if rest := 30*time.Second - time.Since(start); rest > 0 {
		time.Sleep(rest) // the 30 s: traffic goes on meanwhile
	}
	during := tr.acks.Load() - at
	frozen.signal(syscall.SIGCONT)
	t.Logf("resumed %s after %s; %d acks meanwhile", frozen.name, time.Since(start).Round(time.Millisecond), during)
	node.waitReady(time.Minute)
	tr.progress("acks after the resume", 10, time.Minute)
	total := tr.finish(lb.ws())
	c.caughtUp(time.Minute)
	t.Logf("%d messages, none lost or doubled; %d of %d senders moved", total, tr.moved(), len(tr.senders))
}

// A fourth node joins a running cluster: it serves /readyz and a
// resumed visitor (within 3 s of its start on a quiet box: logged).
func TestJoin(t *testing.T) {
	turns.take(t)
	c := embedded(t, 3)
	ctx, cancel := ctxFor(5 * time.Minute)
	defer cancel()
	v, err := client.Dial(ctx, client.Options{URL: "ws://" + c.nodes[0].addr + "/v1/ws"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := v.Send(ctx, fmt.Sprintf("before the join %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	tok, conv, _ := v.State()
	v.Close()

	n := c.join()
	start := time.Now()
	n.start()
	n.waitReady(time.Minute)
	ready := time.Since(start)
	var mu sync.Mutex
	var last, want uint64
	r, err := client.Dial(ctx, client.Options{URL: "ws://" + n.addr + "/v1/ws", Token: tok, ConversationID: conv,
		OnWelcome: func(w protocol.Welcome) { mu.Lock(); want = w.Seq; mu.Unlock() },
		OnMessage: func(m protocol.Message) { mu.Lock(); last = m.Seq; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	testkit.Eventually(t, "the resumed visitor's history on the new node", time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return want > 0 && last == want
	})
	served := time.Since(start)
	// The bound is 3 s; on a quiet box it is met with room to
	// spare, but a shared two-core box can stretch any wall-clock time, so
	// the figure is reported (and recorded in docs/cluster.md), not
	// asserted: what must hold is that the node serves, which the waits
	// above check.
	t.Logf("fourth node: ready %s, resumed visitor served (%d messages) %s after its start (target: 3s)", ready.Round(time.Millisecond), want, served.Round(time.Millisecond))
	if served > 3*time.Second {
		// Its log goes with the test's temporary directory: keep where
		// the time went.
		t.Logf("slower than the 3 s target; the new node's log:\n%s", n.tail())
	}
}
