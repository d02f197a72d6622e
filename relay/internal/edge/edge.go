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
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/bot"
	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/intents"
	"github.com/kefuhq/kefu/relay/internal/origin"
	"github.com/kefuhq/kefu/relay/internal/secret"
	"github.com/kefuhq/kefu/relay/internal/site"
	"github.com/kefuhq/kefu/relay/internal/visitor"
	"github.com/kefuhq/kefu/relay/internal/web"
	"github.com/kefuhq/kefu/relay/protocol"
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
	// DefaultModel is the default intents' model, fitted at build time
	// (kefu-edge-intents --default-model): what seeds an empty database
	// with Config.DemoIntents. The edge fits no model: nil seeds nothing.
	DefaultModel []byte
	// Kept is what an instance keeps across the edges it builds; nil
	// keeps nothing (an instance per request).
	Kept *Kept
	Log  *slog.Logger
}

// Edge serves the edge's routes. On Workers each request starts the
// program anew, so it builds only what its request needs (parts below):
// a health check reads nothing, the widget's files no model, and only a
// conversation builds the bot and the AI client.
type Edge struct {
	o       Options
	key     *secret.Key
	origins *origin.Policy
	policy  *web.Policy

	// mu guards what is built on first use; each is built at most once.
	mu      sync.Mutex
	parts   map[part]http.Handler
	assets  *web.Assets
	siteH   *site.Site
	flow    *bot.Flow
	aic     *ai.Client
	visitor *visitor.Handler
	// in is read by the site's handlers while another request may be
	// building it.
	in atomic.Pointer[intents.Service]
}

// New checks the options and returns the edge; it reads nothing: what a
// request needs is built when it comes (Open builds everything now).
func New(ctx context.Context, o Options) (*Edge, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	// The stored AI key (a relay's "ai" document copied to D1) is sealed
	// with the relay's key, given to the Worker as the secret
	// KEFU_SECRET_KEY. Without it, only a key in clear or OPENAI_API_KEY
	// works.
	var key *secret.Key
	if o.Config.SecretKey != "" {
		var err error
		if key, err = secret.Parse(o.Config.SecretKey); err != nil {
			return nil, fmt.Errorf("edge: KEFU_SECRET_KEY: %w", err)
		}
	}
	return &Edge{
		o: o, key: key,
		origins: origin.NewPolicy(o.Config.AllowedOrigins),
		policy:  web.NewPolicy(o.Config.FrameAncestors),
		parts:   map[part]http.Handler{},
	}, nil
}

// MsgNotSetUp answers every request the edge cannot build for (a missing
// binding, migrations not applied, an unreadable key); the log says why.
const MsgNotSetUp = "this chat is not set up yet; its log says why"

// Open builds every part now and reports what fails, instead of the
// first request that needs it answering 503.
func (e *Edge) Open(ctx context.Context) error {
	_, err := e.handler(ctx, partAll)
	return err
}

// ServeHTTP serves the edge's routes, building the part the request's
// path belongs to first.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, err := e.handler(context.WithoutCancel(r.Context()), partOf(r.URL.Path))
	if err != nil {
		e.o.Log.Error("kefu-edge: cannot start", "err", err)
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeInternal, MsgNotSetUp)
		return
	}
	h.ServeHTTP(w, r)
}

// Drain lets answers still streaming finish and reports whether they all
// did within ctx; if not, they were cut, stored as incomplete, and the
// edge is closed (build another). A Worker that keeps its Go instance
// across requests drains after each request, before the next may start.
func (e *Edge) Drain(ctx context.Context) bool {
	e.mu.Lock()
	flow := e.flow
	e.mu.Unlock()
	if flow == nil {
		return true
	}
	flow.Drain(ctx)
	return ctx.Err() == nil
}

// ReadsSettings reports whether a request for path reads the settings
// documents (all but a health check do).
func ReadsSettings(path string) bool { return partOf(path) != partHealth }

// Close lets answers still streaming finish (within ctx, else they are cut
// and stored as incomplete), then releases the AI client. An answer runs
// past its request when the message came as JSON rather than as an event
// stream.
func (e *Edge) Close(ctx context.Context) {
	e.mu.Lock()
	flow, aic := e.flow, e.aic
	e.mu.Unlock()
	if flow != nil {
		flow.Drain(ctx)
		flow.Close()
	}
	if aic != nil {
		aic.Close()
	}
}
