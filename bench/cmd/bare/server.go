package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// writeTimeout bounds one frame's write, like Kefu's --write-timeout.
const writeTimeout = 10 * time.Second

// server holds conversations and live sockets in memory.
type server struct {
	log   *slog.Logger
	ping  time.Duration
	store *store       // nil: memory only
	aiURL string       // the upstream's base URL (--ai-upstream); "" : no answers
	ai    *http.Client // reaches aiURL

	mu     sync.Mutex
	tokens map[string]*conv // visitor token → conversation
	convs  map[string]*conv // conversation id → conversation
	conns  map[*websocket.Conn]struct{}
}

// conv is one conversation: its seq counter and its subscribers.
type conv struct {
	id   string
	mu   sync.Mutex
	seq  uint64
	subs map[*websocket.Conn]struct{}
}

func newServer(durableDir, aiURL string, ping time.Duration, log *slog.Logger) (*server, error) {
	s := &server{log: log, ping: ping, tokens: map[string]*conv{}, convs: map[string]*conv{}, conns: map[*websocket.Conn]struct{}{}}
	if aiURL != "" {
		s.aiURL, s.ai = aiURL, aiClient()
	}
	if durableDir != "" {
		st, err := openStore(durableDir)
		if err != nil {
			return nil, err
		}
		s.store = st
	}
	return s, nil
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /stats", s.serveStats)
	mux.HandleFunc("GET /v1/ws", s.serveVisitor)
	mux.HandleFunc("POST /v1/auth/login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "kefu_session", Value: "bare", Path: "/", HttpOnly: true})
		w.Write([]byte(`{"user":{"id":"bare","username":"admin","name":"Bare","role":"admin"},"csrf":"bare"}`))
	})
	mux.HandleFunc("GET /v1/agent/ws", s.serveAgent)
	return mux
}

// serveStats reports what Kefu's /metrics gives for the same comparison.
func (s *server) serveStats(w http.ResponseWriter, r *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := struct {
		Goroutines int    `json:"goroutines"`
		HeapInuse  uint64 `json:"heap_inuse"`
		StackInuse uint64 `json:"stack_inuse"`
		Commits    uint64 `json:"commits"`
		Batched    uint64 `json:"batched"`
		CommitNS   uint64 `json:"commit_ns"`
	}{Goroutines: runtime.NumGoroutine(), HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse}
	if s.store != nil {
		st.Commits, st.Batched, st.CommitNS = s.store.commits.Load(), s.store.batched.Load(), s.store.commitNS.Load()
	}
	json.NewEncoder(w).Encode(st)
}

func (s *server) track(c *websocket.Conn, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
}

// pinger pings every socket once per interval, spread over the interval,
// from one goroutine (plus one short-lived goroutine per ping in flight,
// since a ping waits for its pong).
func (s *server) pinger(ctx context.Context) {
	const slots = 25
	t := time.NewTicker(s.ping / slots)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		i := 0
		for c := range s.conns {
			if i%slots == n%slots {
				go func() {
					pctx, cancel := context.WithTimeout(ctx, s.ping)
					defer cancel()
					if c.Ping(pctx) != nil {
						c.CloseNow()
					}
				}()
			}
			i++
		}
		s.mu.Unlock()
	}
}

func (s *server) accept(w http.ResponseWriter, r *http.Request) *websocket.Conn {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return nil
	}
	c.SetReadLimit(16 << 10)
	s.track(c, true)
	return c
}

func (s *server) finish(c *websocket.Conn, subscribed []*conv) {
	for _, cv := range subscribed {
		cv.mu.Lock()
		delete(cv.subs, c)
		cv.mu.Unlock()
	}
	s.track(c, false)
	c.CloseNow()
}

// frame is every field a client frame of the benchmark may carry.
type frame struct {
	Type           string `json:"type"`
	Token          string `json:"token"`
	ConversationID string `json:"conversation_id"`
	LastSeq        uint64 `json:"last_seq"`
	ID             string `json:"id"`
	Text           string `json:"text"`
}

type welcome struct {
	Type           string `json:"type"`
	Token          string `json:"token,omitempty"`
	ConversationID string `json:"conversation_id"`
	Seq            uint64 `json:"seq"`
	Resume         string `json:"resume"`
	Status         string `json:"status"`
	Handler        string `json:"handler"`
}

type message struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	Seq            uint64 `json:"seq"`
	ID             string `json:"id,omitempty"`
	From           string `json:"from"`
	Text           string `json:"text"`
	TS             int64  `json:"ts"`
}

type ack struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Seq  uint64 `json:"seq"`
}

func write(ctx context.Context, c *websocket.Conn, v any) error {
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return c.Write(ctx, websocket.MessageText, b)
}

func (s *server) serveVisitor(w http.ResponseWriter, r *http.Request) {
	c := s.accept(w, r)
	if c == nil {
		return
	}
	ctx := context.WithoutCancel(r.Context())
	var cv *conv
	defer func() {
		if cv != nil {
			s.finish(c, []*conv{cv})
		} else {
			s.finish(c, nil)
		}
	}()
	var f frame
	if readFrame(ctx, c, &f) != nil || f.Type != "hello" {
		return
	}
	token := ""
	s.mu.Lock()
	cv = s.tokens[f.Token]
	if cv == nil {
		token, cv = rand.Text(), &conv{id: rand.Text()[:16], subs: map[*websocket.Conn]struct{}{}}
		s.tokens[token], s.convs[cv.id] = cv, cv
	}
	s.mu.Unlock()
	if token != "" && s.store != nil {
		// Durable: a new session's conversation is stored before its
		// welcome, the floor for Kefu's visitor and conversation records.
		if s.store.put(cv.id, 0, []byte(`{"status":"open","handler":"queue"}`)) != nil {
			return
		}
	}
	cv.mu.Lock()
	cv.subs[c] = struct{}{}
	seq := cv.seq
	cv.mu.Unlock()
	resume := "ok"
	if token != "" {
		resume = "new"
	}
	if write(ctx, c, welcome{Type: "welcome", Token: token, ConversationID: cv.id, Seq: seq, Resume: resume, Status: "open", Handler: "queue"}) != nil {
		return
	}
	for {
		if readFrame(ctx, c, &f) != nil {
			return
		}
		if f.Type != "message" {
			continue
		}
		s.onMessage(ctx, c, cv, f.ID, f.Text)
		if s.aiURL != "" {
			go func(text string) {
				actx, cancel := context.WithTimeout(ctx, aiTimeout)
				defer cancel()
				s.answer(actx, cv, text)
			}(f.Text)
		}
	}
}

// onMessage gives the message the next seq, stores it if durable, sends it
// to every subscriber of the conversation, then acks it.
func (s *server) onMessage(ctx context.Context, from *websocket.Conn, cv *conv, id, text string) {
	cv.mu.Lock()
	cv.seq++
	m := message{Type: "message", ConversationID: cv.id, Seq: cv.seq, ID: id, From: "visitor", Text: text, TS: time.Now().UnixMilli()}
	cv.mu.Unlock()
	data, _ := json.Marshal(m)
	if s.store != nil {
		if err := s.store.put(cv.id, m.Seq, data); err != nil {
			s.log.Error("store", "err", err)
			return
		}
	}
	cv.mu.Lock()
	subs := make([]*websocket.Conn, 0, len(cv.subs))
	for c := range cv.subs {
		subs = append(subs, c)
	}
	cv.mu.Unlock()
	for _, c := range subs {
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		c.Write(wctx, websocket.MessageText, data)
		cancel()
	}
	write(ctx, from, ack{Type: "ack", ID: id, Seq: m.Seq})
}

func (s *server) serveAgent(w http.ResponseWriter, r *http.Request) {
	c := s.accept(w, r)
	if c == nil {
		return
	}
	ctx := context.WithoutCancel(r.Context())
	var watched []*conv
	defer func() { s.finish(c, watched) }()
	var f frame
	if readFrame(ctx, c, &f) != nil || f.Type != "hello" {
		return
	}
	if write(ctx, c, map[string]any{"type": "welcome", "agent": map[string]string{"id": "bare"}, "conversations": []any{}}) != nil {
		return
	}
	for {
		if readFrame(ctx, c, &f) != nil {
			return
		}
		if f.Type != "watch" {
			continue
		}
		s.mu.Lock()
		cv := s.convs[f.ConversationID]
		s.mu.Unlock()
		if cv == nil {
			continue
		}
		cv.mu.Lock()
		cv.subs[c] = struct{}{}
		cv.mu.Unlock()
		watched = append(watched, cv)
	}
}

func readFrame(ctx context.Context, c *websocket.Conn, f *frame) error {
	_, data, err := c.Read(ctx)
	if err != nil {
		return err
	}
	*f = frame{}
	return json.Unmarshal(data, f)
}
