package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/internal/auth"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

const adminPassword = "admin-password-for-tests"

func relay(t *testing.T, mutate func(*config.Config)) *apptest.Relay {
	return apptest.Start(t, func(c *config.Config) {
		c.AdminPassword = adminPassword
		if mutate != nil {
			mutate(c)
		}
	})
}

// person is a signed-in browser: cookie jar and CSRF token.
type person struct {
	t    *testing.T
	r    *apptest.Relay
	http *http.Client
	csrf string
	user auth.User
}

func signIn(t *testing.T, r *apptest.Relay, username, password string) *person {
	t.Helper()
	return personOf(t, r, r.SignIn(t, username, password))
}

func personOf(t *testing.T, r *apptest.Relay, s *apptest.Session) *person {
	return &person{t: t, r: r, http: s.Client(), csrf: s.CSRF(), user: s.User()}
}

func newAgent(t *testing.T, r *apptest.Relay, username, skills string, capacity int) *person {
	t.Helper()
	return personOf(t, r, r.NewAccount(t, auth.NewAccount{Username: username, Role: store.RoleAgent, Skills: skills, Capacity: capacity}))
}

// console is an agent socket recording every frame.
type console struct {
	t    *testing.T
	conn *websocket.Conn
	mu   sync.Mutex
	ev   []map[string]any
	ch   chan struct{}
	done chan struct{}
	code websocket.StatusCode
}

func (p *person) console() *console {
	p.t.Helper()
	c := p.consoleWith(`{"type":"hello"}`)
	c.wait(func(m map[string]any) bool { return m["type"] == "welcome" })
	return c
}

// consoleWith opens the agent socket and says hello as given.
func (p *person) consoleWith(hello string) *console {
	p.t.Helper()
	conn := p.r.DialAgent(p.t, p.http.Jar)
	c := &console{t: p.t, conn: conn, ch: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				c.code = websocket.CloseStatus(err)
				return
			}
			var m map[string]any
			json.Unmarshal(data, &m)
			c.mu.Lock()
			c.ev = append(c.ev, m)
			c.mu.Unlock()
			select {
			case c.ch <- struct{}{}:
			default:
			}
		}
	}()
	p.t.Cleanup(func() { conn.CloseNow(); <-c.done })
	c.send(hello)
	return c
}

func (c *console) send(s string) {
	c.t.Helper()
	if err := c.conn.Write(context.Background(), websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("console write: %v", err)
	}
}

func (c *console) wait(ok func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		for _, m := range c.ev {
			if ok(m) {
				c.mu.Unlock()
				return m
			}
		}
		c.mu.Unlock()
		select {
		case <-c.ch:
		case <-c.done:
			c.t.Fatalf("console closed (%d) while waiting", c.code)
		case <-deadline:
			c.t.Fatalf("timed out; console saw %d frames: %v", len(c.ev), c.ev)
		}
	}
}

func msgIn(conv, from, text string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		return m["type"] == "message" && m["conversation_id"] == conv && m["from"] == from && (text == "" || m["text"] == text)
	}
}

// visitor is a widget-like client.
type visitor struct {
	c     *client.Client
	conv  string
	mu    sync.Mutex
	msgs  []protocol.Message
	conv_ []map[string]any
	ch    chan struct{}
	t     *testing.T
}

func newVisitor(t *testing.T, r *apptest.Relay) *visitor { return newVisitorIn(t, r, "") }

// newVisitorIn is newVisitor whose widget speaks lang (hello's "lang").
func newVisitorIn(t *testing.T, r *apptest.Relay, lang string) *visitor {
	t.Helper()
	v := &visitor{ch: make(chan struct{}, 1), t: t}
	c, err := client.Dial(context.Background(), client.Options{URL: r.WS, Lang: lang,
		OnMessage: func(m protocol.Message) { v.mu.Lock(); v.msgs = append(v.msgs, m); v.mu.Unlock(); v.poke() },
		OnFrame: func(typ string, raw []byte) {
			if typ == "conversation" {
				var m map[string]any
				json.Unmarshal(raw, &m)
				v.mu.Lock()
				v.conv_ = append(v.conv_, m)
				v.mu.Unlock()
				v.poke()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	v.c = c
	_, v.conv, _ = c.State()
	return v
}

func (v *visitor) poke() {
	select {
	case v.ch <- struct{}{}:
	default:
	}
}

func (v *visitor) send(text string) {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := v.c.Send(ctx, text); err != nil {
		v.t.Fatal(err)
	}
}

func (v *visitor) waitMsg(ok func(protocol.Message) bool) protocol.Message {
	v.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		v.mu.Lock()
		for _, m := range v.msgs {
			if ok(m) {
				v.mu.Unlock()
				return m
			}
		}
		v.mu.Unlock()
		select {
		case <-v.ch:
		case <-deadline:
			v.t.Fatalf("visitor timed out; has %v", v.msgs)
		}
	}
}

func TestAgentSocketRefusesOtherSitesAndStrangers(t *testing.T) {
	r := relay(t, nil)
	p := signIn(t, r, "admin", adminPassword)
	u, _ := url.Parse(r.URL)
	cookie := ""
	for _, c := range p.http.Jar.Cookies(u) {
		cookie = c.Name + "=" + c.Value
	}
	ws := "ws" + strings.TrimPrefix(r.URL, "http") + "/v1/agent/ws"
	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"cross-site page with the agent's cookie", http.Header{"Origin": {"https://evil.example"}, "Cookie": {cookie}}, 403},
		{"no origin", http.Header{"Cookie": {cookie}}, 403},
		{"no session", http.Header{"Origin": {r.URL}}, 401},
		{"forged session", http.Header{"Origin": {r.URL}, "Cookie": {"kefu_session=forged"}}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, err := websocket.Dial(context.Background(), ws, &websocket.DialOptions{HTTPHeader: tt.header})
			if err == nil || resp == nil || resp.StatusCode != tt.want {
				t.Fatalf("err %v resp %v, want %d", err, resp, tt.want)
			}
		})
	}
}

// A visitor asks for a person, the only online agent gets the chat, replies,
// and the visitor sees who joined and the reply.
func TestRoutedChatReplyReachesVisitor(t *testing.T) {
	r := relay(t, nil)
	mei := newAgent(t, r, "mei", "shipping delivery", 3)
	con := mei.console()
	v := newVisitor(t, r)
	v.send("I want to talk to a person please")
	conv := con.wait(func(m map[string]any) bool {
		return m["type"] == "conversation" && m["conversation_id"] == v.conv && m["handler"] == "agent" && m["agent_id"] == mei.user.ID
	})
	if conv["handler_name"] != "Mei" {
		t.Errorf("inbox entry %v", conv)
	}
	// Assigned conversations are watched automatically: the question is there.
	con.wait(msgIn(v.conv, "visitor", "I want to talk to a person please"))
	joined := v.waitMsg(func(m protocol.Message) bool { return m.From == "system" && strings.Contains(m.Text, "Mei joined") })
	_ = joined
	con.send(fmt.Sprintf(`{"type":"message","conversation_id":%q,"id":"r1","text":"Hi, Mei here. How can I help?"}`, v.conv))
	ack := con.wait(func(m map[string]any) bool { return m["type"] == "ack" && m["id"] == "r1" })
	got := v.waitMsg(func(m protocol.Message) bool { return m.From == "agent" })
	if got.Author != "Mei" || got.Text != "Hi, Mei here. How can I help?" || float64(got.Seq) != ack["seq"] {
		t.Errorf("visitor got %+v, ack %v", got, ack)
	}
	// The same id again stores nothing.
	con.send(fmt.Sprintf(`{"type":"message","conversation_id":%q,"id":"r1","text":"Hi, Mei here. How can I help?"}`, v.conv))
	dup := con.wait(func(m map[string]any) bool { return m["type"] == "ack" && m["id"] == "r1" && m["duplicate"] == true })
	if dup["seq"] != ack["seq"] {
		t.Errorf("duplicate ack %v", dup)
	}
}

// Taking over from the AI mid-stream stops it; what it said stays, marked
// incomplete, and the visitor is told who joined.
func TestTakeOverFromAIMidStream(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{Text: strings.Repeat("slowly ", 100), ChunkRunes: 7, Delay: 30 * time.Millisecond})
	r := relay(t, func(c *config.Config) {
		c.OpenAIBaseURL, c.OpenAIAPIKey = up.BaseURL, "sk-test"
	})
	admin := signIn(t, r, "admin", adminPassword)
	con := admin.console()
	v := newVisitor(t, r)
	v.send("tell me about your company")
	con.send(fmt.Sprintf(`{"type":"watch","conversation_id":%q,"last_seq":0}`, v.conv))
	// The agent sees the AI's answer streaming.
	con.wait(func(m map[string]any) bool { return m["type"] == "delta" && m["conversation_id"] == v.conv })
	con.send(fmt.Sprintf(`{"type":"take","conversation_id":%q}`, v.conv))
	ai := v.waitMsg(func(m protocol.Message) bool { return m.From == "bot" })
	if !ai.Incomplete || ai.Text == "" || len(ai.Text) >= len(strings.Repeat("slowly ", 100)) {
		t.Errorf("AI message after take-over: incomplete=%v len=%d", ai.Incomplete, len(ai.Text))
	}
	joined := v.waitMsg(func(m protocol.Message) bool { return m.From == "system" && strings.Contains(m.Text, "Admin joined") })
	if joined.Seq < ai.Seq {
		t.Errorf("the transcript has %q (seq %d) before the cut answer (seq %d)", joined.Text, joined.Seq, ai.Seq)
	}
	deadline := time.Now().Add(5 * time.Second)
	for up.Active() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("upstream stream still open after the take-over")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The AI stays quiet from now on.
	v.send("are you still there?")
	time.Sleep(300 * time.Millisecond)
	if n := up.Count(); n != 1 {
		t.Errorf("AI called %d times; it must stop once a person joined", n)
	}
}

func TestLogoutClosesAgentSocketFast(t *testing.T) {
	r := relay(t, nil)
	p := signIn(t, r, "admin", adminPassword)
	con := p.console()
	req, _ := http.NewRequest("POST", r.URL+"/v1/auth/logout", nil)
	req.Header.Set("X-CSRF-Token", p.csrf)
	req.Header.Set("Origin", r.URL)
	start := time.Now()
	resp, err := p.http.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("logout: %v %v", err, resp)
	}
	select {
	case <-con.done:
	case <-time.After(5 * time.Second):
		t.Fatal("agent socket still open 5 s after logout")
	}
	if con.code != protocol.CloseUnauthorized {
		t.Errorf("close code %d, want %d", con.code, protocol.CloseUnauthorized)
	}
	t.Logf("socket closed %s after logout", time.Since(start).Round(time.Millisecond))
}

func TestDisablingAnAgentClosesTheirSocket(t *testing.T) {
	r := relay(t, nil)
	mei := newAgent(t, r, "mei", "", 3)
	con := mei.console()
	a, err := r.Store.UpdateAccount(context.Background(), mei.user.ID, func(a *store.Account) error { a.Disabled = true; return nil })
	if err != nil {
		t.Fatal(err)
	}
	r.App.Auth().EndAccountSessions(context.Background(), a.ID, nil)
	select {
	case <-con.done:
	case <-time.After(5 * time.Second):
		t.Fatal("disabled agent's socket still open")
	}
}

// An agent's console drops; a colleague replies meanwhile; the agent comes
// back with its last seq and gets the reply.
func TestColleagueReplyReachesReconnectingAgent(t *testing.T) {
	r := relay(t, nil)
	mei := newAgent(t, r, "mei", "", 3)
	bo := newAgent(t, r, "bo", "", 3)
	meiCon := mei.console()
	v := newVisitor(t, r)
	v.send("talk to a human please")
	meiCon.wait(msgIn(v.conv, "visitor", "talk to a human please"))
	last := uint64(0)
	meiCon.mu.Lock()
	for _, m := range meiCon.ev {
		if m["type"] == "message" && m["conversation_id"] == v.conv {
			last = uint64(m["seq"].(float64))
		}
	}
	meiCon.mu.Unlock()
	meiCon.conn.CloseNow()
	<-meiCon.done

	boCon := bo.console()
	boCon.send(fmt.Sprintf(`{"type":"message","conversation_id":%q,"id":"bo-1","text":"Bo here, covering for Mei."}`, v.conv))
	boCon.wait(func(m map[string]any) bool { return m["type"] == "ack" && m["id"] == "bo-1" })

	meiBack := mei.console()
	meiBack.send(fmt.Sprintf(`{"type":"watch","conversation_id":%q,"last_seq":%d}`, v.conv, last))
	got := meiBack.wait(msgIn(v.conv, "agent", "Bo here, covering for Mei."))
	if got["author"] != "Bo" {
		t.Errorf("reply %v", got)
	}
	// The conversation stayed Mei's: a colleague's reply does not steal it.
	c, _ := r.Store.Conversation(v.conv)
	if c.AgentID != mei.user.ID {
		t.Errorf("assigned to %s, want Mei", c.AgentID)
	}
}

func TestQueueWaitsForAnAgentThenAssigns(t *testing.T) {
	r := relay(t, nil)
	v := newVisitor(t, r)
	v.send("can I speak to a real person")
	v.waitMsg(func(m protocol.Message) bool { return m.From == "system" })
	c, _ := r.Store.Conversation(v.conv)
	if c.Handler != store.HandlerQueue {
		t.Fatalf("handler %s, want queue", c.Handler)
	}
	mei := newAgent(t, r, "mei", "", 1)
	mei.console()
	v.waitMsg(func(m protocol.Message) bool { return strings.Contains(m.Text, "Mei joined") })
}

func TestSkillsRouteTheChat(t *testing.T) {
	r := relay(t, nil)
	ship := newAgent(t, r, "ship", "shipping delivery parcel courier", 5)
	ret := newAgent(t, r, "ret", "returns refund money back", 5)
	ship.console()
	ret.console()
	v := newVisitor(t, r)
	// A hand-off intent match carries the question to routing.
	v.send("I need a person about my refund, I want my money back")
	v.waitMsg(func(m protocol.Message) bool { return m.From == "system" && strings.Contains(m.Text, "joined") })
	c, _ := r.Store.Conversation(v.conv)
	if c.AgentID != ret.user.ID {
		t.Errorf("refund question went to %s, want the returns agent", r.App.Router().Name(c.AgentID))
	}
}

func TestOfflineAgentLosesChatsAfterGrace(t *testing.T) {
	r := relay(t, func(c *config.Config) { c.AgentOfflineDrop = 200 * time.Millisecond })
	mei := newAgent(t, r, "mei", "", 3)
	meiCon := mei.console()
	v := newVisitor(t, r)
	v.send("talk to a person")
	v.waitMsg(func(m protocol.Message) bool { return strings.Contains(m.Text, "Mei joined") })
	meiCon.conn.CloseNow()
	<-meiCon.done
	bo := newAgent(t, r, "bo", "", 3)
	bo.console()
	r.App.Router().Tick(context.Background()) // the relay ticks every 5 s; don't wait for it
	time.Sleep(300 * time.Millisecond)
	r.App.Router().Tick(context.Background())
	v.waitMsg(func(m protocol.Message) bool { return strings.Contains(m.Text, "Bo joined") })
}

func TestTransferAndClose(t *testing.T) {
	r := relay(t, nil)
	mei := newAgent(t, r, "mei", "", 3)
	bo := newAgent(t, r, "bo", "", 3)
	meiCon := mei.console()
	v := newVisitor(t, r)
	v.send("talk to a person")
	meiCon.wait(msgIn(v.conv, "visitor", ""))
	boCon := bo.console()
	meiCon.send(fmt.Sprintf(`{"type":"transfer","conversation_id":%q,"to":%q}`, v.conv, bo.user.ID))
	boCon.wait(msgIn(v.conv, "visitor", "talk to a person"))
	v.waitMsg(func(m protocol.Message) bool { return strings.Contains(m.Text, "Bo joined") })
	boCon.send(fmt.Sprintf(`{"type":"close","conversation_id":%q}`, v.conv))
	v.waitMsg(func(m protocol.Message) bool { return strings.Contains(m.Text, "closed") })
	boCon.send(fmt.Sprintf(`{"type":"close","conversation_id":%q}`, v.conv))
	e := boCon.wait(func(m map[string]any) bool { return m["type"] == "error" })
	if e["code"] != string(protocol.CodeConflict) {
		t.Errorf("closing twice: %v", e)
	}
	boCon.send(`{"type":"transfer","conversation_id":"nope","to":"queue"}`)
	boCon.wait(func(m map[string]any) bool { return m["type"] == "error" && m["code"] == string(protocol.CodeNotFound) })
}

// A console that starts watching while the AI answers gets the text so far
// (a delta with index 0), then the rest.
func TestWatchMidStreamGetsTheAnswerSoFar(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{Text: strings.Repeat("steady ", 80), ChunkRunes: 7, Delay: 20 * time.Millisecond})
	r := relay(t, func(c *config.Config) { c.OpenAIBaseURL, c.OpenAIAPIKey = up.BaseURL, "sk-test" })
	v := newVisitor(t, r)
	v.send("tell me about your company")
	deadline := time.Now().Add(5 * time.Second)
	for up.Active() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no stream")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a few chunks in
	con := signIn(t, r, "admin", adminPassword).console()
	con.send(fmt.Sprintf(`{"type":"watch","conversation_id":%q,"last_seq":0}`, v.conv))
	snap := con.wait(func(m map[string]any) bool { return m["type"] == "delta" && m["index"] == float64(0) })
	if s, _ := snap["text"].(string); !strings.HasPrefix(strings.Repeat("steady ", 80), s) || len(s) == 0 {
		t.Errorf("snapshot %q", snap["text"])
	}
	final := con.wait(func(m map[string]any) bool { return m["type"] == "message" && m["from"] == "bot" })
	if final["text"] != strings.Repeat("steady ", 80) {
		t.Errorf("final %q", final["text"])
	}
}

// Message activity reaches every console as batched inbox updates.
func TestInboxUpdatesAreBatched(t *testing.T) {
	r := relay(t, nil)
	con := signIn(t, r, "admin", adminPassword).console()
	v := newVisitor(t, r)
	for i := range 5 {
		v.send(fmt.Sprintf("how long does shipping take, question %d", i))
	}
	in := con.wait(func(m map[string]any) bool {
		if m["type"] != "inbox" {
			return false
		}
		for _, c := range m["conversations"].([]any) {
			c := c.(map[string]any)
			if c["conversation_id"] == v.conv && c["last_seq"] == float64(10) {
				return true
			}
		}
		return false
	})
	_ = in
	// Ten stored messages (five questions, five FAQ answers) came in a
	// handful of inbox frames, not one each.
	con.mu.Lock()
	n := 0
	for _, m := range con.ev {
		if m["type"] == "inbox" {
			n++
		}
	}
	con.mu.Unlock()
	if n > 5 {
		t.Errorf("%d inbox frames for 10 messages", n)
	}
}

// hello can say "away" from the first moment: no chat is routed meanwhile.
func TestHelloAwayIsNotRouted(t *testing.T) {
	r := relay(t, nil)
	mei := newAgent(t, r, "mei", "", 3)
	con := mei.consoleWith(`{"type":"hello","status":"away"}`)
	w := con.wait(func(m map[string]any) bool { return m["type"] == "welcome" })
	if w["agent"].(map[string]any)["status"] != "away" {
		t.Errorf("welcome agent %v", w["agent"])
	}
	v := newVisitor(t, r)
	v.send("talk to a person")
	v.waitMsg(func(m protocol.Message) bool { return m.From == "system" })
	r.App.Router().Tick(context.Background())
	if c, _ := r.Store.Conversation(v.conv); c.Handler != store.HandlerQueue {
		t.Errorf("handler %s: routed to an agent who is away", c.Handler)
	}
}

// A reconnecting console gives its positions: assigned conversations are
// replayed from there, not from the first message.
func TestHelloPositionsLimitTheReplay(t *testing.T) {
	r := relay(t, nil)
	mei := newAgent(t, r, "mei", "", 3)
	first := mei.console()
	v := newVisitor(t, r)
	v.send("talk to a person")
	first.wait(msgIn(v.conv, "visitor", "talk to a person"))
	v.send("second question")
	first.wait(msgIn(v.conv, "visitor", "second question"))
	c, _ := r.Store.Conversation(v.conv)
	first.conn.CloseNow()
	<-first.done
	again := mei.consoleWith(fmt.Sprintf(`{"type":"hello","positions":{%q:%d}}`, v.conv, c.LastSeq-1))
	last := again.wait(msgIn(v.conv, "visitor", "second question"))
	again.mu.Lock()
	defer again.mu.Unlock()
	for _, m := range again.ev {
		if m["type"] == "message" && m["seq"].(float64) < float64(c.LastSeq) {
			t.Errorf("replayed seq %v before the console's position %d", m["seq"], c.LastSeq-1)
		}
	}
	_ = last
}

func TestAgentErrorsNameTheirConversationAndTypingIsNotEchoed(t *testing.T) {
	r := relay(t, nil)
	con := signIn(t, r, "admin", adminPassword).console()
	con.send(`{"type":"take","conversation_id":"nosuchconversat"}`)
	e := con.wait(func(m map[string]any) bool { return m["type"] == "error" })
	if e["conversation_id"] != "nosuchconversat" || e["action"] != "take" || e["code"] != string(protocol.CodeNotFound) {
		t.Errorf("error %v", e)
	}
	v := newVisitor(t, r)
	v.send("talk to a person")
	con.send(fmt.Sprintf(`{"type":"watch","conversation_id":%q,"last_seq":0}`, v.conv))
	con.wait(msgIn(v.conv, "visitor", "talk to a person"))
	con.send(fmt.Sprintf(`{"type":"typing","conversation_id":%q,"on":true}`, v.conv))
	con.send(fmt.Sprintf(`{"type":"message","conversation_id":%q,"id":"t1","text":"hello"}`, v.conv))
	con.wait(func(m map[string]any) bool { return m["type"] == "ack" && m["id"] == "t1" })
	con.mu.Lock()
	defer con.mu.Unlock()
	for _, m := range con.ev {
		if m["type"] == "typing" && m["from"] == "agent" {
			t.Errorf("own typing echoed back: %v", m)
		}
	}
}
