package edge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/bot"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/identity"
	"github.com/kefuhq/kefu/relay/internal/intents"
	"github.com/kefuhq/kefu/relay/internal/kb"
	"github.com/kefuhq/kefu/relay/internal/site"
	"github.com/kefuhq/kefu/relay/internal/visitor"
	"github.com/kefuhq/kefu/relay/internal/web"
	"github.com/kefuhq/kefu/widget"
)

// A part is the routes one kind of request needs, with only what they
// depend on built. Each part's mux holds every pattern that could match a
// path partOf gives it, so it answers exactly as the whole edge would
// (wrong methods, unknown sub-paths); TestPartsAnswerAsTheWhole checks it.
type part int

const (
	partAll    part = iota // every route: conversations, and anything unlisted
	partHealth             // /healthz: nothing read
	partFiles              // the widget's files and messages, /readyz: settings, no model
	partModel              // the config, the model, answers, classify: settings and the model
)

// partOf is the part serving path.
func partOf(path string) part {
	switch {
	case path == "/healthz":
		return partHealth
	// /readyz reads the settings: ready means the database answers.
	case path == "/readyz" || path == "/widget.js" || path == "/v1/widget/messages" || path == "/demo" || strings.HasPrefix(path, "/assets/"):
		return partFiles
	case path == "/v1/widget/config" || path == "/v1/model" || path == "/v1/classify" ||
		strings.HasPrefix(path, "/v1/model/") || strings.HasPrefix(path, "/v1/answers/"):
		return partModel
	}
	return partAll
}

// handler returns p's handler, building it and what it needs first.
func (e *Edge) handler(ctx context.Context, p part) (http.Handler, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if h := e.parts[p]; h != nil {
		return h, nil
	}
	mux := http.NewServeMux()
	cors := e.origins.CORS
	switch p {
	case partHealth:
		// Its routes are web's; the assets behind the others are not
		// loaded and never asked for here.
		(&web.Server{Assets: new(web.Assets), Ready: func() error { return nil }}).Routes(mux)
	default:
		if err := e.buildSite(); err != nil {
			return nil, err
		}
		(&web.Server{Assets: e.assets, Ready: func() error { return nil }}).Routes(mux)
		e.siteH.Routes(mux, cors)
		if p == partFiles {
			break
		}
		if err := e.buildIntents(ctx); err != nil {
			return nil, err
		}
		// Each request is a fresh instance: a per-address rate would
		// forget every request (docs/edge.md: use Cloudflare's rate
		// limiting rules).
		e.in.Load().Routes(mux, cors, func(h http.Handler) http.Handler { return h })
		if p == partModel {
			break
		}
		if err := e.buildVisitor(ctx); err != nil {
			return nil, err
		}
		e.visitor.HTTPRoutes(mux, cors)
		notHere(mux, cors)
	}
	h := e.policy.Wrap(mux)
	e.parts[p] = h
	return h, nil
}

// buildSite loads the widget's files and the widget settings; the
// settings' sites join the allowed origins, so every part but health
// builds it before answering anyone.
func (e *Edge) buildSite() error {
	if e.siteH != nil {
		return nil
	}
	// Only the widget's own files: the classifier module is too big to
	// live inside the Worker (docs/edge.md) and the pages are the relay's.
	// Not precompressed: that would cost every request ~4 ms of CPU, and
	// Cloudflare compresses responses itself. Hashed at build time, for
	// the same reason. The files the Worker only serves are not in it
	// (widget/fs_js.go): Workers static assets serve them at their
	// hashed URLs, and the Worker knows them by hash.
	assets, err := e.o.Kept.keptAssets(func() (*web.Assets, error) {
		return web.Load(web.Options{Hashes: e.o.AssetHashes, ServedElsewhere: true}, widget.FS)
	})
	if err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	// The model's hash and the answers' are asked for only by the config,
	// whose part builds the intents first.
	modelHash := func() string {
		in := e.in.Load()
		if in == nil {
			return ""
		}
		_, _, hash := in.Model()
		return hash
	}
	answers := func(lang string) string {
		in := e.in.Load()
		if in == nil {
			return ""
		}
		return in.AnswersHash(lang)
	}
	s, err := site.New(assets, e.o.Store, e.origins, modelHash, site.Options{NoSocket: true, Wasm: e.o.Wasm, Answers: answers})
	if err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	e.assets, e.siteH = assets, s
	return nil
}

// buildIntents reads the intents and decodes their model, seeding the
// default intents when there are none and Config.DemoIntents is set. It
// never fits a model (intents.OpenStored; docs/edge.md): what has none
// stored with it classifies nothing.
func (e *Edge) buildIntents(ctx context.Context) error {
	if e.in.Load() != nil {
		return nil
	}
	in, err := e.o.Kept.keptIntents(e.o.Store, func() (*intents.Service, error) {
		return intents.OpenStored(ctx, e.o.Store, e.o.Log, e.o.Config.DemoIntents, e.o.DefaultModel)
	})
	if err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	e.in.Store(in)
	return nil
}

// buildVisitor builds the conversations' side: the knowledge base, the AI
// client, the bot and the visitor API.
func (e *Edge) buildVisitor(ctx context.Context) error {
	if e.visitor != nil {
		return nil
	}
	cfg, st, log := e.o.Config, e.o.Store, e.o.Log
	// The knowledge base a relay stored (its "kb" setting copied to D1)
	// grounds answers here too.
	knowledge, err := e.o.Kept.keptKnowledge(st, func() (*kb.Service, error) { return kb.Open(st, log, time.Now) })
	if err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	// Each request restores the day's token use and saves it after an
	// answer: concurrent requests may overwrite each other's count, so the
	// daily limit holds only roughly here (docs/edge.md).
	aip, err := bot.NewAI(ctx, st, cfg, bot.AIOptions{Transport: e.o.Transport, Logger: log, Secrets: e.key})
	if errors.Is(err, ai.ErrKeyUnreadable) {
		return fmt.Errorf("edge: %w; set the Worker secret KEFU_SECRET_KEY to the relay's secret key file (npx wrangler secret put KEFU_SECRET_KEY < secret.key)", err)
	}
	if err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	// Signed identity: the relay's stored secret (copied to D1, opened
	// with KEFU_SECRET_KEY) or KEFU_IDENTITY_SECRET, which wins.
	idOpts := identity.Options{FlagSecret: cfg.IdentitySecret, FlagRequire: cfg.RequireSignedIdentity, FlagsOnly: true, Log: log}
	if e.key != nil {
		idOpts.Sealer = e.key
	}
	idn, err := identity.New(ctx, st, idOpts)
	if err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	h, m := e.o.Fanout.Hub, noMetrics{}
	in := e.in.Load()
	flow := bot.New(st, h, in, aip.Client, aip.Settings, aip.Budget, log, m, bot.Options{
		NoPeople: true,
		// Nobody listens to an answer started by a JSON request; give it
		// the time the Worker has left after the response.
		AbandonAfter: DefaultDrain - 5*time.Second,
		Knowledge:    knowledge,
	})
	e.visitor = visitor.New(visitor.Options{
		Origins:         e.origins,
		BehindProxy:     cfg.BehindProxy,
		MaxMessageBytes: cfg.MaxMessageBytes,
		RatePerConn:     cfg.RatePerConn,
		RatePerVisitor:  cfg.RatePerVisitor,
		MaxConnsPerIP:   cfg.MaxConnsPerIP,
		AnswerTimeout:   cfg.AIAnswerTimeout,
		PollEvery:       DefaultPoll,
		Identity:        idn.Get,
		NoContext:       true, // no agents here to show it to (docs/privacy.md)
		Conn:            hub.ConnOptions{Queue: cfg.SendQueue, WriteTimeout: cfg.WriteTimeout, PingInterval: cfg.PingInterval, ReadLimit: int64(cfg.MaxFrameBytes)},
	}, st, h, log, m, visitor.Hooks{
		Message:   flow.OnVisitorMessage,
		Joined:    flow.Joined,
		Answer:    in.Answer,
		Streaming: flow.Streaming,
	})
	e.flow, e.aic = flow, aip.Client
	return nil
}
