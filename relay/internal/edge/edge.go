// Package edge builds the relay's stateless HTTP surface for the edge
// build on Cloudflare Workers (relay/cmd/kefu-edge): the widget assets and
// config, the intent model and server-side classification, and the
// visitor HTTP API whose event-stream replies carry FAQ and AI answers.
// The handlers are the relay's own (site, intents, visitor, bot, ai); only
// the store (D1 there), the upstream transport (the Workers fetch) and
// what the edge cannot do differ. It builds and is tested on linux too.
package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/bot"
	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/intents"
	"github.com/kefuhq/kefu/relay/internal/kb"
	"github.com/kefuhq/kefu/relay/internal/origin"
	"github.com/kefuhq/kefu/relay/internal/secret"
	"github.com/kefuhq/kefu/relay/internal/site"
	"github.com/kefuhq/kefu/relay/internal/visitor"
	"github.com/kefuhq/kefu/relay/internal/web"
	"github.com/kefuhq/kefu/widget"
)

// Store is what the edge's handlers need from a store.
type Store interface {
	visitor.Store
	bot.Store
}

// DefaultDrain bounds how long Close lets answers still streaming finish.
// Workers keeps a request's background work (waitUntil) alive for 30 s
// after the response; this leaves room to store what was said.
const DefaultDrain = 25 * time.Second

// NewFanout returns the live side of the edge: the hub that event streams
// subscribe to. Open the store with its OnAppend (so what is stored
// reaches the streams, in seq order), then pass both to New.
func NewFanout() *chat.Fanout {
	return &chat.Fanout{Hub: hub.New(), Metrics: noMetrics{}}
}

// noMetrics records nothing: a Worker's counters would cover one request
// and nothing could scrape them (/metrics is not served here), and
// Prometheus' registry, with protobuf beneath it, was a fifth of the
// Worker and part of every request's start (docs/edge.md).
type noMetrics struct{}

func (noMetrics) MessageStored(string)   {}
func (noMetrics) InstantAnswer()         {}
func (noMetrics) Handoff(string, string) {}
func (noMetrics) Opened(string)          {}
func (noMetrics) Closed(string, int)     {}
func (noMetrics) Refuse(string)          {}
func (noMetrics) FrameError(string)      {}
func (noMetrics) Ack(bool)               {}

// DefaultPoll is how often a visitor's event stream reads D1 for messages
// other requests stored (their own question, another tab's): each request
// runs apart here, so no hub carries them. A read finding nothing costs
// one index lookup.
const DefaultPoll = 2 * time.Second

// Options are what the edge is built from.
type Options struct {
	// Fanout is NewFanout's, whose OnAppend the store calls.
	Fanout *chat.Fanout
	// Config is the relay's option table, read from the Worker's
	// environment (config.Parse with its vars and secrets). Options about
	// listening, files, sockets and accounts do not apply.
	Config config.Config
	Store  Store
	// Transport carries upstream AI requests (the Workers fetch); nil
	// dials directly, as the relay does.
	Transport http.RoundTripper
	// Wasm announces the widget's classifier module, served as static
	// files beside the Worker; nil leaves classification to the edge.
	Wasm *site.WasmFiles
	// AssetHashes are the widget files' content hashes, worked out at
	// build time (ParseAssetHashes); files not in it are hashed here.
	AssetHashes map[string]web.Precomputed
	Log         *slog.Logger
}

// Edge serves the edge's routes.
type Edge struct {
	h    http.Handler
	flow *bot.Flow
	aic  *ai.Client
}

// New builds every handler. It reads the settings documents (intents,
// model, AI and widget settings) from the store, and seeds the default
// intents when there are none and Config.DemoIntents is set.
func New(ctx context.Context, o Options) (*Edge, error) {
	cfg, st, log := o.Config, o.Store, o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Only the widget's own files: the classifier module is too big to
	// live inside the Worker (docs/edge.md) and the pages are the relay's.
	// Not precompressed: that would cost every request ~4 ms of CPU, and
	// Cloudflare compresses responses itself. Hashed at build time, for
	// the same reason.
	assets, err := web.Load(web.Options{Hashes: o.AssetHashes}, widget.FS)
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	in, err := intents.Open(ctx, st, log, cfg.DemoIntents)
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	// The knowledge base a relay stored (its "kb" setting copied to D1)
	// grounds answers here too.
	knowledge, err := kb.Open(st, log, time.Now)
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	h, m := o.Fanout.Hub, noMetrics{}
	// Each request restores the day's token use and saves it after an
	// answer: concurrent requests may overwrite each other's count, so the
	// daily limit holds only roughly here (docs/edge.md).
	// The stored AI key (a relay's "ai" document copied to D1) is sealed
	// with the relay's key, given to the Worker as the secret
	// KEFU_SECRET_KEY. Without it, only a key in clear or OPENAI_API_KEY
	// works.
	var key *secret.Key
	if cfg.SecretKey != "" {
		if key, err = secret.Parse(cfg.SecretKey); err != nil {
			return nil, fmt.Errorf("edge: KEFU_SECRET_KEY: %w", err)
		}
	}
	aip, err := bot.NewAI(ctx, st, cfg, bot.AIOptions{Transport: o.Transport, Logger: log, Secrets: key})
	if errors.Is(err, ai.ErrKeyUnreadable) {
		return nil, fmt.Errorf("edge: %w; set the Worker secret KEFU_SECRET_KEY to the relay's secret key file (npx wrangler secret put KEFU_SECRET_KEY < secret.key)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	aic := aip.Client
	flow := bot.New(st, h, in, aic, aip.Settings, aip.Budget, log, m, bot.Options{
		NoPeople: true,
		// Nobody listens to an answer started by a JSON request; give it
		// the time the Worker has left after the response.
		AbandonAfter: DefaultDrain - 5*time.Second,
		Knowledge:    knowledge,
	})

	origins := origin.NewPolicy(cfg.AllowedOrigins)
	cors := origins.CORS
	mux := http.NewServeMux()
	(&web.Server{Assets: assets, Ready: func() error { return nil }}).Routes(mux)
	// Each request is a fresh instance: a per-address rate would forget
	// every request (docs/edge.md: use Cloudflare's rate limiting rules).
	in.Routes(mux, cors, func(h http.Handler) http.Handler { return h })
	modelHash := func() string { _, _, hash := in.Model(); return hash }
	s, err := site.New(assets, st, origins, modelHash, site.Options{NoSocket: true, Wasm: o.Wasm, Answers: in.AnswersHash})
	if err != nil {
		flow.Close()
		return nil, fmt.Errorf("edge: %w", err)
	}
	s.Routes(mux, cors)
	vh := visitor.New(visitor.Options{
		Origins:         origins,
		BehindProxy:     cfg.BehindProxy,
		MaxMessageBytes: cfg.MaxMessageBytes,
		RatePerConn:     cfg.RatePerConn,
		RatePerVisitor:  cfg.RatePerVisitor,
		MaxConnsPerIP:   cfg.MaxConnsPerIP,
		AnswerTimeout:   cfg.AIAnswerTimeout,
		PollEvery:       DefaultPoll,
		NoContext:       true, // no agents here to show it to (docs/privacy.md)
		Conn:            hub.ConnOptions{Queue: cfg.SendQueue, WriteTimeout: cfg.WriteTimeout, PingInterval: cfg.PingInterval, ReadLimit: int64(cfg.MaxFrameBytes)},
	}, st, h, log, m, visitor.Hooks{
		Message:   flow.OnVisitorMessage,
		Joined:    flow.Joined,
		Answer:    in.Answer,
		Streaming: flow.Streaming,
	})
	vh.HTTPRoutes(mux, cors)
	notHere(mux, cors)
	return &Edge{h: web.NewPolicy(cfg.FrameAncestors).Wrap(mux), flow: flow, aic: aic}, nil
}

// ServeHTTP serves the edge's routes.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) { e.h.ServeHTTP(w, r) }

// Close lets answers still streaming finish (within ctx, else they are cut
// and stored as incomplete), then releases the AI client. An answer runs
// past its request when the message came as JSON rather than as an event
// stream.
func (e *Edge) Close(ctx context.Context) {
	e.flow.Drain(ctx)
	e.flow.Close()
	e.aic.Close()
}
