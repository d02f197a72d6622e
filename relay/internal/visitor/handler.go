// Package visitor serves the visitor WebSocket, GET /v1/ws: hello and
// resume, durable messages with acks, typing, and the limits around them.
package visitor

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/limits"
	"github.com/kefuhq/kefu/relay/internal/origin"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Options are the visitor socket's limits.
type Options struct {
	Origins         *origin.Policy // which sites may open the socket; nil allows any
	BehindProxy     bool
	MaxMessageBytes int
	RatePerConn     float64
	RatePerVisitor  float64
	MaxConnsPerIP   int
	// RatePerIP bounds the new visitors one address creates per second
	// (each is a durable record); 0 means no limit.
	RatePerIP    float64
	HelloTimeout time.Duration
	Conn         hub.ConnOptions
	// AnswerTimeout bounds how long POST …/messages streams an answer.
	AnswerTimeout time.Duration
	// EventsFor is how long one GET …/events stream lasts before the client
	// reconnects (proxies drop idle long requests anyway).
	EventsFor time.Duration
	// PollEvery, when set, makes GET …/events also read the store this
	// often for messages stored by other requests. Off on the relay, whose
	// hub sees every message; the edge build needs it, since each of its
	// requests runs apart with a hub of its own.
	PollEvery time.Duration
	// IdentitySecret verifies Kefu.identify's user_hash (signed.go); empty
	// verifies nothing.
	IdentitySecret string
	// RequireSignedIdentity refuses identify frames without a valid
	// user_hash.
	RequireSignedIdentity bool
	// NoContext keeps no visitor context (browser, time zone, visits):
	// the edge, which has no agents to show it to, spends no writes on it.
	NoContext bool
	// Identity, when set, gives both instead (the admin page's settings,
	// which change at run time; identity.Service.Get).
	Identity func() (secret string, require bool)
}

// Hooks let other parts of the relay act on visitor activity. Nil hooks are
// skipped. Hooks run on the connection's goroutine and must not block for
// long: start a goroutine for slow work.
type Hooks struct {
	// Message runs after a visitor's new message was stored and acked.
	Message func(ctx context.Context, s *Session, a store.Appended)
	// Joined runs after a connection's replay, before live frames flow; it
	// may queue frames on sub (an AI answer still streaming, say).
	Joined func(sub hub.Subscriber, s *Session)
	// Answer returns the stored answer of an FAQ intent the browser says it
	// answered, in the visitor's language lang (the one the widget showed),
	// so the relay stores its own text, not the client's.
	Answer func(intent, lang string) (text string, ok bool)
	// Streaming reports whether an answer is still streaming into a
	// conversation (the HTTP API keeps its response open until it is done).
	Streaming func(convID string) bool
	// ErasureRequest records a visitor's own request to erase their data
	// (privacy.Service.Ask); nil refuses such requests.
	ErasureRequest func(ctx context.Context, visitorID, convID string) error
}

// Store is what the visitor endpoints need from the store.
type Store interface {
	CreateVisitor(ctx context.Context, tokenHash []byte, fingerprint string, fill ...store.Fill) (store.Visitor, store.Conversation, error)
	VisitorByToken(tokenHash []byte) (store.Visitor, error)
	Visitor(id string) (store.Visitor, error)
	UpdateVisitor(ctx context.Context, id string, fn func(*store.Visitor) error) (store.Visitor, error)
	Conversation(id string) (store.Conversation, error)
	Append(ctx context.Context, convID string, msgs ...store.NewMessage) (store.Appended, error)
	Messages(convID string, after uint64, limit int) ([]store.Message, error)
}

// Metrics counts connections, refusals, frame errors and acks (the
// relay's Prometheus metrics; nothing on the edge).
type Metrics interface {
	Opened(kind string)
	Closed(kind string, code int)
	// Refuse: origin, per_ip, shutting_down.
	Refuse(reason string)
	FrameError(code string)
	Ack(duplicate bool)
}

// Handler serves GET /v1/ws (Socket) and the visitor HTTP API (HTTPRoutes).
type Handler struct {
	opts     Options
	store    Store
	hub      *hub.Hub
	log      *slog.Logger
	metrics  Metrics
	perIP    *limits.Counter
	newPerIP *limits.Keyed // nil: no limit
	visitors *limits.Keyed
	hooks    Hooks
	rates    map[string]limits.Rate // every session's frame rates, shared
}

// New builds the handler; it does no I/O.
func New(opts Options, st Store, h *hub.Hub, log *slog.Logger, m Metrics, hooks Hooks) *Handler {
	if opts.AnswerTimeout <= 0 {
		opts.AnswerTimeout = 2 * time.Minute
	}
	if opts.EventsFor <= 0 {
		opts.EventsFor = time.Minute
	}
	return &Handler{
		opts: opts, store: st, hub: h, log: log, metrics: m, hooks: hooks,
		perIP:    limits.NewCounter(opts.MaxConnsPerIP),
		newPerIP: limits.NewPerAddress(opts.RatePerIP),
		visitors: limits.NewKeyed(opts.RatePerVisitor, limits.Burst(opts.RatePerVisitor), nil),
		rates:    frameRates(opts.RatePerConn),
	}
}

// Socket serves the visitor WebSocket, GET /v1/ws. It is a handler of its
// own, not the Handler's ServeHTTP: the edge build mounts only the HTTP
// routes, and a ServeHTTP method stays linked wherever a *Handler is
// reachable through an interface, and with it the WebSocket server (30 KB
// of the Worker's gzipped bundle; docs/edge.md).
func (h *Handler) Socket() http.Handler { return http.HandlerFunc(h.serveSocket) }

// serveSocket upgrades the request to the visitor socket. Refusals before
// the upgrade answer with a JSON error body carrying a protocol error code.
func (h *Handler) serveSocket(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); !h.opts.Origins.Admit(o, r.Host) {
		h.metrics.Refuse("origin")
		httpx.Error(w, http.StatusForbidden, protocol.CodeOriginNotAllowed, "")
		return
	}
	ip := limits.ClientIP(r, h.opts.BehindProxy)
	if !h.perIP.Acquire(ip) {
		h.metrics.Refuse("per_ip")
		httpx.Error(w, http.StatusTooManyRequests, protocol.CodeTooManyConnections, "")
		return
	}
	defer h.perIP.Release(ip)
	c, err := hub.Accept(w, r, &websocket.AcceptOptions{
		// The origin was checked above against the configured site
		// patterns: the widget lives on customer sites by design.
		InsecureSkipVerify: true,
	}, "visitor", h.opts.Conn)
	if err != nil {
		h.log.Debug("visitor: accept failed", "ip", ip, "err", err)
		return
	}
	if !h.hub.Register(c) {
		h.metrics.Refuse("shutting_down")
		c.CloseBeforeStart(protocol.CloseRestart, "server restarting")
		return
	}
	h.metrics.Opened("visitor")
	s := &Session{h: h, c: c, ip: ip, log: h.log}
	code := s.run(context.WithoutCancel(r.Context()), r.Header.Get("User-Agent"), r.Header.Get("Origin"))
	h.hub.Deregister(c)
	h.metrics.Closed("visitor", int(code))
}

// newToken returns a new visitor token and the key stored for it: the
// time it was made (store.TimeKey), a dot and 256 random bits.
func newToken(now time.Time) (token string, hash []byte) {
	var b [32]byte
	rand.Read(b[:])
	token = store.TimeKey(now) + "." + base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(token)
}

// tokenLen is the length of the tokens newToken makes.
const tokenLen = store.TimeKeyLen + 1 + 43

// hashToken is the key a token is stored under: its SHA-256, behind the
// time the token was made for a token that carries it. Tokens made
// together are then stored side by side, and a group commit of new
// visitors adds to one leaf of the tokens tree rather than reading and
// rewriting a random leaf per visitor (issue 16: most of what a connect
// left for the GC). The time is not secret (the visitor's own, in their
// browser); the random part is the credential. Tokens made before
// (43 characters, no time) keep their plain hash.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	if len(token) == tokenLen && token[store.TimeKeyLen] == '.' && store.IsTimeKey(token[:store.TimeKeyLen]) {
		return append([]byte(token[:store.TimeKeyLen]), h[:]...)
	}
	return h[:]
}
