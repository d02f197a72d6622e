package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Three relays in one process, each with its NATS server embedded and its
// own JetStream directory: what one node did is seen on the others. One
// cluster serves every case, one after another (a cluster takes seconds to
// start); each case uses its own people, visitors and counts.
func TestCluster(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{Text: strings.Repeat("steady words ", 40), ChunkRunes: 8, Delay: 15 * time.Millisecond})
	n := cluster(t, func(_ int, c *config.Config) {
		c.OpenAIBaseURL, c.OpenAIAPIKey = up.BaseURL, "sk-test"
		c.MetricsToken = metricsToken
		c.AllowPrivateDestinations = true // the webhook receiver is on loopback
	})
	for _, tc := range []struct {
		name string
		run  func(*testing.T, []*apptest.Relay, *openaitest.Server)
	}{
		{"VisitorAndAgentOnDifferentNodes", visitorAndAgentOnDifferentNodes},
		{"AIStreamsToEveryNode", aiStreamsToEveryNode},
		{"OneAnswerAtATimeAcrossTabs", oneAnswerAtATimeAcrossTabs},
		{"RoutesEachQueuedConversationOnce", routesEachQueuedConversationOnce},
		{"PresenceAndSessions", presenceAndSessions},
		{"SettingsReachEveryNode", settingsReachEveryNode},
		{"ResumeOnAnotherNode", resumeOnAnotherNode},
		{"VisitorPresenceAcrossNodes", visitorPresenceAcrossNodes},
		{"ErasureForgetsAnswersOnEveryNode", erasureForgetsAnswersOnEveryNode},
		{"FilesAndNotesAcrossNodes", filesAndNotesAcrossNodes},
		{"WebhooksOnceFromOneNode", webhooksOnceFromOneNode},
		{"SearchAndTagsAcrossNodes", searchAndTagsAcrossNodes},
		{"RouterMovesWhenItsNodeStops", routerMovesWhenItsNodeStops}, // last: it stops a node
	} {
		if !t.Run(tc.name, func(t *testing.T) { tc.run(t, n, up) }) {
			t.Logf("%s failed; the cases after it run on what it left", tc.name)
		}
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func visitorAndAgentOnDifferentNodes(t *testing.T, n []*apptest.Relay, _ *openaitest.Server) {
	mei := newAgent(t, n[0], "mei", 5).on(n[2])
	con := mei.console()
	v := newVisitor(t, n[0])
	tab := v.tab(n[1]) // the same visitor in a second tab, on another node

	v.send("I want to talk to a person please")
	// Routed by whichever node holds the router's lease; Mei's console on
	// node 2 watches it.
	con.wait(msgIn(v.conv, "visitor", "I want to talk to a person please"))
	for _, w := range []*visitor{v, tab} {
		w.waitMsg(func(m protocol.Message) bool { return m.From == "system" && strings.Contains(m.Text, "Mei joined") })
	}
	// Typing crosses nodes both ways.
	con.send(fmt.Sprintf(`{"type":"typing","conversation_id":%q,"on":true}`, v.conv))
	tab.waitFrame(func(m map[string]any) bool { return m["type"] == "typing" && m["from"] == "agent" && m["on"] == true })
	if err := tab.c.Typing(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	con.wait(func(m map[string]any) bool {
		return m["type"] == "typing" && m["conversation_id"] == v.conv && m["from"] == "visitor"
	})

	// Both sides write at once, from three nodes; everyone sees every
	// message once, in one order, with contiguous seqs.
	const each = 15
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range each {
			v.send(fmt.Sprintf("visitor %d", i))
		}
	}()
	go func() {
		defer wg.Done()
		for i := range each {
			con.send(fmt.Sprintf(`{"type":"message","conversation_id":%q,"id":"mei-%d","text":"agent %d"}`, v.conv, i, i))
			con.wait(func(m map[string]any) bool { return m["type"] == "ack" && m["id"] == fmt.Sprintf("mei-%d", i) })
		}
	}()
	wg.Wait()
	c, err := n[1].Store.Conversation(v.conv)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*visitor{v, tab} {
		w.waitMsg(func(m protocol.Message) bool { return m.Seq == c.LastSeq })
		msgs := w.messages()
		for i, m := range msgs {
			if m.Seq != uint64(i+1) {
				t.Fatalf("visitor got seq %d at position %d", m.Seq, i)
			}
		}
	}
	con.wait(func(m map[string]any) bool { return m["type"] == "message" && m["seq"] == float64(c.LastSeq) })
	seen := map[float64]bool{}
	con.mu.Lock()
	for _, m := range con.ev {
		if m["type"] == "message" && m["conversation_id"] == v.conv {
			seen[m["seq"].(float64)] = true
		}
	}
	con.mu.Unlock()
	if len(seen) != int(c.LastSeq) {
		t.Errorf("the agent's console saw %d distinct seqs of %d", len(seen), c.LastSeq)
	}
}

func aiStreamsToEveryNode(t *testing.T, n []*apptest.Relay, up *openaitest.Server) {
	calls := up.Count()
	v := newVisitor(t, n[0])
	tab := v.tab(n[1])
	v.send("tell me about your company")
	first := tab.waitFrame(func(m map[string]any) bool { return m["type"] == "delta" && m["text"] != "" })
	// A third tab joining mid-answer on node 2 gets the text so far from
	// node 0, which streams it.
	late := v.tab(n[2])
	snap := late.waitFrame(func(m map[string]any) bool { return m["type"] == "delta" })
	if snap["stream_id"] != first["stream_id"] {
		t.Errorf("the late tab's first delta is of stream %v, want %v", snap["stream_id"], first["stream_id"])
	}
	answer := tab.waitMsg(func(m protocol.Message) bool { return m.From == "bot" })
	if answer.Incomplete || answer.StreamID != first["stream_id"] {
		t.Errorf("stored answer %+v", answer)
	}
	late.waitMsg(func(m protocol.Message) bool { return m.Seq == answer.Seq })
	if got := up.Count() - calls; got != 1 {
		t.Errorf("the upstream was asked %d times for one question", got)
	}
}

// Messages from two tabs on two nodes while one answer streams are
// answered after it, by the node streaming it: one answer at a time.
func oneAnswerAtATimeAcrossTabs(t *testing.T, n []*apptest.Relay, up *openaitest.Server) {
	calls := up.Count()
	v := newVisitor(t, n[0])
	tab := v.tab(n[1])
	peak := make(chan int)
	stop := make(chan struct{})
	go func() {
		most := 0
		for {
			most = max(most, up.Active())
			select {
			case <-stop:
				peak <- most
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	// Questions no other case asks: a node answers a question it has
	// answered before from its cache, without the upstream.
	v.send("how do your bicycles compare with the others")
	tab.waitFrame(func(m map[string]any) bool { return m["type"] == "delta" })
	tab.send("and what about your history?")
	// Two answers, one after the other, never two at once.
	second := v.waitMsg(func(m protocol.Message) bool { return m.From == "bot" && m.Seq > 3 })
	close(stop)
	if got := <-peak; got != 1 {
		t.Errorf("%d answers streamed at once for one conversation", got)
	}
	first := v.waitMsg(func(m protocol.Message) bool { return m.From == "bot" })
	if first.Incomplete || second.Incomplete || up.Count()-calls != 2 {
		t.Errorf("answers %+v and %+v after %d upstream calls; want two whole answers", first, second, up.Count()-calls)
	}
}

func routesEachQueuedConversationOnce(t *testing.T, n []*apptest.Relay, _ *openaitest.Server) {
	agents := []*person{newAgent(t, n[0], "ann", 10).on(n[1]), newAgent(t, n[0], "bo", 10).on(n[2])}
	for _, a := range agents {
		a.console()
	}
	for _, r := range n {
		eventually(t, "both agents online on every node", func() bool {
			online := 0
			for _, a := range r.App.Router().Agents() {
				if a.Status == protocol.StatusOnline && a.Capacity == 10 {
					online++
				}
			}
			return online == 2
		})
	}
	const visitors = 12
	var wg sync.WaitGroup
	vs := make([]*visitor, visitors)
	for i := range vs {
		vs[i] = newVisitor(t, n[i%3])
	}
	for _, v := range vs {
		wg.Add(1)
		go func() { defer wg.Done(); v.send("I need to speak to a person") }()
	}
	wg.Wait()
	for _, v := range vs {
		v.waitMsg(func(m protocol.Message) bool { return m.From == "system" && strings.Contains(m.Text, "joined") })
	}
	total := 0
	for _, v := range vs {
		// Any second assignment would have said so right after the first:
		// each visitor's own stream has every message up to the last.
		c, _ := n[0].Store.Conversation(v.conv)
		last := v.waitMsg(func(m protocol.Message) bool { return m.Seq >= c.LastSeq })
		joined := 0
		for _, m := range v.messages() {
			if m.From == "system" && strings.Contains(m.Text, "joined") {
				joined++
			}
		}
		if joined != 1 || c.Handler != store.HandlerAgent {
			t.Errorf("conversation %s (up to seq %d): %d joins, handler %s; want one assignment", v.conv, last.Seq, joined, c.Handler)
		}
		total++
	}
	// Every node counts the same loads.
	for i, r := range n {
		eventually(t, fmt.Sprintf("node %d counts every assignment", i), func() bool {
			sum := 0
			for _, a := range r.App.Router().Agents() {
				if a.ID == agents[0].user.ID || a.ID == agents[1].user.ID {
					sum += a.Load
				}
			}
			return sum == total
		})
	}
}

func presenceAndSessions(t *testing.T, n []*apptest.Relay, _ *openaitest.Server) {
	mei := newAgent(t, n[0], "cy", 3)
	con := mei.on(n[1]).console()
	status := func(r *apptest.Relay) string {
		for _, a := range r.App.Router().Agents() {
			if a.ID == mei.user.ID {
				return a.Status
			}
		}
		return ""
	}
	eventually(t, "online on node 2", func() bool { return status(n[2]) == protocol.StatusOnline })
	con.send(`{"type":"presence","status":"away"}`)
	eventually(t, "away on node 0", func() bool { return status(n[0]) == protocol.StatusAway })

	// Signing out on node 0 closes the socket on node 1 at once.
	if resp := mei.do("POST", "/v1/auth/logout", ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %s", resp.Status)
	}
	select {
	case <-con.done:
	case <-time.After(time.Minute):
		t.Fatal("agent socket on another node still open after logout")
	}
	if con.code != protocol.CloseUnauthorized {
		t.Errorf("close code %d, want %d", con.code, protocol.CloseUnauthorized)
	}
	eventually(t, "offline on node 2", func() bool { return status(n[2]) == protocol.StatusOffline })
}

func settingsReachEveryNode(t *testing.T, n []*apptest.Relay, _ *openaitest.Server) {
	admin := signIn(t, n[0], "admin", adminPassword)
	hash := func(r *apptest.Relay) string { _, _, h := r.App.Intents().Model(); return h }
	before := hash(n[2])
	body := `{"name":"warranty","examples":["how long is the warranty","is it under warranty","warranty period"],"answer":"Two years."}`
	if resp := admin.do("POST", "/v1/admin/intents", body); resp.StatusCode >= 300 {
		t.Fatalf("add intent: %s", resp.Status)
	}
	eventually(t, "the new model on node 2", func() bool { return hash(n[2]) != before && hash(n[2]) == hash(n[0]) })
	// Widgets loading on node 1 are told of the new model.
	eventually(t, "node 1 tells widgets of the new model", func() bool {
		resp, err := http.Get(n[1].URL + "/v1/widget/config")
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct{ Model struct{ Hash string } }
		json.NewDecoder(resp.Body).Decode(&cfg)
		resp.Body.Close()
		return cfg.Model.Hash == hash(n[0])
	})
	// Availability texts saved on node 0 are what widgets on node 2 show.
	if resp := admin.do("PUT", "/v1/admin/availability", `{"time_zone":"UTC","reply_minutes":60,"texts":{"en":{"availOnline":"Here on every node"}}}`); resp.StatusCode != 200 {
		t.Fatalf("availability: %s", resp.Status)
	}
	eventually(t, "node 2 has the new availability texts", func() bool {
		resp, err := http.Get(n[2].URL + "/v1/widget/availability?lang=en")
		if err != nil {
			t.Fatal(err)
		}
		var av struct{ Texts map[string]string }
		json.NewDecoder(resp.Body).Decode(&av)
		resp.Body.Close()
		return av.Texts["availOnline"] == "Here on every node"
	})
}

// Mail to a visitor waits while they have the chat open on any node: a
// node asks the others.
func visitorPresenceAcrossNodes(t *testing.T, n []*apptest.Relay, _ *openaitest.Server) {
	v := newVisitor(t, n[1])
	eventually(t, "node 0 knows the visitor is on node 1", func() bool { return n[0].App.VisitorHere(v.conv) })
	v.c.Close()
	eventually(t, "node 0 knows the visitor left", func() bool { return !n[0].App.VisitorHere(v.conv) })
}

func resumeOnAnotherNode(t *testing.T, n []*apptest.Relay, _ *openaitest.Server) {
	v := newVisitor(t, n[0])
	for i := range 5 {
		v.send(fmt.Sprintf("before %d", i))
	}
	tok, conv, last := v.c.State()
	v.c.Close()
	// Meanwhile the conversation goes on (the bot's replies, a colleague).
	if _, err := n[2].Store.Append(context.Background(), conv, store.NewMessage{From: protocol.FromSystem, Text: "while you were away"}); err != nil {
		t.Fatal(err)
	}
	back := resumeVisitor(t, n[1], client.Options{Token: tok, ConversationID: conv, LastSeq: last})
	c, _ := n[1].Store.Conversation(conv)
	back.waitMsg(func(m protocol.Message) bool { return m.Seq == c.LastSeq })
	msgs := back.messages()
	if len(msgs) == 0 || msgs[0].Seq != last+1 {
		t.Fatalf("resumed from %d, first message %+v", last, msgs)
	}
	for i, m := range msgs {
		if m.Seq != last+1+uint64(i) {
			t.Fatalf("seq %d at position %d after resuming from %d", m.Seq, i, last)
		}
	}
}

const metricsToken = "metrics-token-for-tests"

// metric reads one sample of a node's /metrics (0 when absent).
func metric(t *testing.T, r *apptest.Relay, name string) float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", r.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+metricsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %q", name, line)
			}
			return f
		}
	}
	return 0
}

// An erasure on node 0 drops the answer node 1 cached for the erased
// visitor's words: the next visitor asking them on node 1 gets a fresh
// answer from the upstream, not the erased one's.
func erasureForgetsAnswersOnEveryNode(t *testing.T, n []*apptest.Relay, up *openaitest.Server) {
	const question = "can I bring my dog to the showroom on a sunday"
	before := metric(t, n[1], "kefu_ai_cache_entries")
	v := newVisitor(t, n[1])
	v.send(question)
	v.waitMsg(func(m protocol.Message) bool { return m.From == "bot" && !m.Incomplete })
	eventually(t, "node 1 caches the answer", func() bool { return metric(t, n[1], "kefu_ai_cache_entries") == before+1 })
	// Control: the cache is what answers the same words on node 1 now.
	calls := up.Count()
	w := newVisitor(t, n[1])
	w.send(question)
	w.waitMsg(func(m protocol.Message) bool { return m.From == "bot" })
	if got := up.Count() - calls; got != 0 {
		t.Fatalf("set-up: the upstream was asked %d times for a cached question", got)
	}

	conv, err := n[0].Store.Conversation(v.conv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := n[0].App.Privacy().Erase(ctx, []string{conv.VisitorID}, "test"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node 1 drops the erased visitor's answer", func() bool { return metric(t, n[1], "kefu_ai_cache_entries") == before })
	calls = up.Count()
	x := newVisitor(t, n[1])
	x.send(question)
	x.waitMsg(func(m protocol.Message) bool { return m.From == "bot" && !m.Incomplete })
	if got := up.Count() - calls; got != 1 {
		t.Errorf("after the erasure the upstream was asked %d times for the erased visitor's question on node 1, want 1", got)
	}
}

// The node holding the router's lease stops; another takes it and routes.
func routerMovesWhenItsNodeStops(t *testing.T, n []*apptest.Relay, _ *openaitest.Server) {
	holder := -1
	eventually(t, "a node routes", func() bool {
		for i, r := range n {
			if r.App.Routing() {
				holder = i
				return true
			}
		}
		return false
	})
	rest := []*apptest.Relay{}
	for i, r := range n {
		if i != holder {
			rest = append(rest, r)
		}
	}
	dee := newAgent(t, rest[0], "dee", 3)
	dee.console()
	if err := n[holder].Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "another node routes", func() bool { return rest[0].App.Routing() || rest[1].App.Routing() })
	v := newVisitor(t, rest[1])
	v.send("talk to a person please")
	v.waitMsg(func(m protocol.Message) bool { return m.From == "system" && strings.Contains(m.Text, "Dee joined") })
}
