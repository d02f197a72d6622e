// Package app wires the relay together: it builds every part from the
// configuration, serves them on one listener, and shuts them down in order.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kefuhq/kefu/public"
	"github.com/kefuhq/kefu/relay/internal/admin"
	"github.com/kefuhq/kefu/relay/internal/agent"
	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/assign"
	"github.com/kefuhq/kefu/relay/internal/auth"
	"github.com/kefuhq/kefu/relay/internal/avail"
	"github.com/kefuhq/kefu/relay/internal/bot"
	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/cluster"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/csat"
	"github.com/kefuhq/kefu/relay/internal/datadir"
	"github.com/kefuhq/kefu/relay/internal/egress"
	"github.com/kefuhq/kefu/relay/internal/files"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/identity"
	"github.com/kefuhq/kefu/relay/internal/intents"
	"github.com/kefuhq/kefu/relay/internal/kb"
	"github.com/kefuhq/kefu/relay/internal/limits"
	"github.com/kefuhq/kefu/relay/internal/mail"
	"github.com/kefuhq/kefu/relay/internal/metrics"
	"github.com/kefuhq/kefu/relay/internal/notify"
	"github.com/kefuhq/kefu/relay/internal/ops"
	"github.com/kefuhq/kefu/relay/internal/origin"
	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/profile"
	"github.com/kefuhq/kefu/relay/internal/search"
	"github.com/kefuhq/kefu/relay/internal/site"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/visitor"
	"github.com/kefuhq/kefu/relay/internal/web"
	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/kefuhq/kefu/widget"
)

// Store is the relay's storage backend: every part's store in one
// (boltdb on one node; the cluster's backend beside it).
type Store interface {
	visitor.Store
	bot.Store
	auth.Store
	assign.Store
	agent.Store
	admin.Store
	privacy.Store
	files.Store
	csat.Emitter // ratings into the event log
	mail.Store
	notify.Log
	profile.Store // visitors by identity (the visitor panel)
	// The operator's needs: a consistent copy of everything (kefu backup,
	// GET /v1/admin/backup), and whether it can commit now (/readyz).
	ops.Backuper
	Ready(ctx context.Context) error
	Close() error
}

// App is a running relay.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	version string

	metrics    *metrics.Metrics
	hub        *hub.Hub
	store      Store
	cluster    *clusterParts // nil on one node
	flow       *bot.Flow
	aic        *ai.Client
	aiCache    *ai.Cache
	aiTest     *ai.Client // the admin's AI test: stricter about destinations
	fan        *chat.Fanout
	authSvc    *auth.Service
	router     *assign.Router
	privacy    *privacy.Service
	search     *search.Service
	files      *files.Service
	notify     notifiers
	intents    *intents.Service
	aiSettings *bot.AISettings
	site       *site.Site
	avail      *avail.Service
	mail       *mail.Service
	identity   *identity.Service
	bgStop     context.CancelFunc
	bg         sync.WaitGroup
	server     *http.Server
	ln         net.Listener
	pprof      *http.Server
	routes     *httpx.Routes
	assets     *web.Assets
	ready      atomic.Bool
	held       atomic.Bool // the away switch held routing at the last availability

	metricsSrv *http.Server
	metricsLn  net.Listener
	control    *ops.Control
	// firstPassword is the generated password of the first admin, set
	// when this start created the account.
	firstPassword string
}

// New returns an unopened relay; it does no I/O.
func New(cfg config.Config, log *slog.Logger, version string) *App {
	return &App{cfg: cfg, log: log, version: version, metrics: metrics.New(), notify: notifiers{wake: &notify.Waker{}}}
}

// Open opens the database and the listeners and builds the routes.
func (a *App) Open(ctx context.Context) error {
	if a.cfg.Mode() == config.ModeSingle {
		if err := a.openSingle(); err != nil {
			return err
		}
	} else if err := a.openCluster(ctx); err != nil {
		a.Close()
		return err
	}

	a.routes = httpx.NewRoutes()
	err := a.build(ctx, a.routes)
	if err == nil && a.cluster != nil {
		err = a.linkCluster(ctx)
	}
	if err != nil {
		a.Close()
		return err
	}

	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		a.Close()
		return fmt.Errorf("app: listen on %s: %w", a.cfg.Addr, err)
	}
	a.ln = ln
	a.server = &http.Server{
		Handler:           web.NewPolicy(a.cfg.FrameAncestors).Wrap(a.routes),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	if a.cfg.MetricsAddr != "" {
		if a.metricsLn, err = net.Listen("tcp", a.cfg.MetricsAddr); err != nil {
			a.Close()
			return fmt.Errorf("app: listen on --metrics-addr %s: %w", a.cfg.MetricsAddr, err)
		}
		m := http.NewServeMux()
		m.Handle("GET /metrics", metrics.Protect(a.cfg.MetricsToken, a.metrics.Handler()))
		a.metricsSrv = &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	}
	// The control socket is a convenience (kefu backup while serving); a
	// data directory whose path is too long for a socket still serves.
	if a.control, err = ops.ListenControl(a.cfg.DataDir, a.store, a.log); err != nil {
		a.log.Warn("kefu: no control socket; kefu backup will need the relay stopped (GET /v1/admin/backup works)", "err", err)
	}
	return nil
}

// openSingle opens one node's bbolt store.
func (a *App) openSingle() error {
	a.hub = hub.New()
	a.fan = &chat.Fanout{Hub: a.hub, Metrics: a.metrics}
	if err := datadir.Check(a.cfg.DataDir, datadir.Single); err != nil {
		return err
	}
	if a.cfg.Repair {
		if err := a.repair(); err != nil {
			return err
		}
	}
	st, err := boltdb.Open(a.cfg.DataDir, boltdb.Options{
		LockTimeout:  a.cfg.DBLockTimeout,
		MaxBatch:     a.cfg.MaxBatch,
		LogCompactAt: a.cfg.LogCompactAt,
		NoLog:        a.cfg.LogCompactAt == 0,
		Logger:       a.log,
		OnCommit:     a.metrics.ObserveCommit,
		OnLogCompact: a.metrics.ObserveLogMove,
		OnAppend:     a.fan.OnAppend,
		OnEvents:     a.notify.wake.Kick,
	})
	if err != nil {
		return err
	}
	a.store = st
	return nil
}

// repair sets damaged records aside before the relay opens the database.
func (a *App) repair() error {
	a.log.Info("kefu: checking every record before serving (--repair)")
	rep, err := boltdb.Repair(context.Background(), a.cfg.DataDir, boltdb.RepairOptions{LockTimeout: a.cfg.DBLockTimeout, Logger: a.log})
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new data directory
	}
	if err != nil {
		return fmt.Errorf("app: --repair: %w", err)
	}
	if rep.Changed() {
		a.log.Warn("kefu: repaired the database", "quarantined", len(rep.Quarantined), "rebuilt", len(rep.Fixed),
			"lost", len(rep.Lost), "unreadable", len(rep.Unreadable), "damaged_file_kept", rep.Kept)
	} else {
		a.log.Info("kefu: the database is sound", "summary", rep.Check.Summary())
	}
	return nil
}

// build makes every part that serves requests and registers its routes.
func (a *App) build(ctx context.Context, mux httpx.Mux) error {
	cfg := a.cfg
	assets, err := web.Load(web.Options{Compress: web.Gzip, Bundle: public.Bundle()}, assetTrees()...)
	if err != nil {
		return err
	}
	a.assets = assets
	in, err := intents.Open(ctx, a.store, a.log, cfg.DemoIntents)
	if err != nil {
		return err
	}
	// The knowledge base grounds AI answers; stored beside the intents.
	knowledge, err := kb.Open(a.store, a.log, time.Now)
	if err != nil {
		return err
	}
	key, keySource, err := a.secretKey()
	if err != nil {
		return err
	}
	if a.cluster != nil {
		if err := a.checkSharedKey(ctx, key, keySource); err != nil {
			return err
		}
	}
	// Signed identity: the admin page's secret (sealed) and switch, the
	// flags overriding them.
	a.identity, err = identity.New(ctx, a.store, identity.Options{
		FlagSecret: cfg.IdentitySecret, FlagRequire: cfg.RequireSignedIdentity,
		Sealer: key, Forget: cfg.ForgetSecrets, Log: a.log,
	})
	if err != nil {
		return explainIdentity(err, keySource)
	}
	a.aiCache = ai.NewCache(4096, time.Hour, time.Now)
	aip, err := bot.NewAI(ctx, a.store, cfg, bot.AIOptions{
		Cache: a.aiCache, Logger: a.log, Secrets: key,
		NewMetrics: func(c *ai.Cache, b *ai.Budget, l *ai.Limiter) (ai.Metrics, error) {
			return metrics.NewAI(a.metrics.Registry, c, b, l)
		},
	})
	if err != nil {
		return explainUnreadable(err, keySource)
	}
	a.aic = aip.Client
	// The admin's "test" button reads the upstream's answer back to the
	// page, so it may reach only public addresses unless the operator says
	// otherwise (answers to visitors may come from a model on the LAN).
	a.aiTest, err = ai.New(ai.Options{
		Logger:   a.log,
		Timeouts: ai.Timeouts{FirstToken: cfg.AIFirstToken, ChunkGap: cfg.AIChunkGap, Answer: cfg.AIAnswerTimeout},
		Egress:   &egress.Policy{AllowPrivate: cfg.AllowPrivateDestinations},
	})
	if err != nil {
		return err
	}
	aiSettings := aip.Settings
	a.intents, a.aiSettings = in, aiSettings
	a.flow = bot.New(a.store, a.hub, in, a.aic, aiSettings, aip.Budget, a.log, a.metrics, bot.Options{
		AbandonAfter: cfg.AIAbandonAfter, PollGrace: cfg.AIPollGrace, StillWorkingAfter: cfg.AIStillWorking,
		Peers:     a.flowPeers(),
		Knowledge: knowledge,
	})
	a.search = search.New(a.store, search.Options{Log: a.log, Hub: a.hub, Topic: assign.InboxTopic, Peers: a.searchPeers()})
	a.files = files.New(files.Options{MaxBytes: int64(cfg.MaxFileBytes), VisitorQuota: int64(cfg.VisitorFileQuota), BehindProxy: cfg.BehindProxy}, a.store, a.log)
	if err := a.buildNotifiers(ctx, key, keySource); err != nil {
		return err
	}
	a.privacy = privacy.New(a.store, privacy.Options{Log: a.log, Erasers: []privacy.Eraser{
		// Answers keyed by the visitor's words, or scoped to their session.
		privacy.EraserFunc{ID: "ai-cache", Fn: func(_ context.Context, s privacy.Subject) error {
			a.forgetAnswers(ai.ForgetKeys(s.Texts, s.Fingerprints))
			return nil
		}},
		a.files.Eraser(),
		a.search.Eraser(),
		a.notify.webhooks,
	}})

	origins := origin.NewPolicy(cfg.AllowedOrigins)
	cors := origins.CORS
	(&web.Server{Assets: assets, Ready: a.readyErr}).Routes(mux)
	if cfg.MetricsToken != "" {
		mux.Handle("GET /metrics", metrics.Protect(cfg.MetricsToken, a.metrics.Handler()))
	}
	perAddress := func(h http.Handler) http.Handler {
		return limits.PerAddress(limits.NewPerAddress(cfg.RatePerIP), cfg.BehindProxy, h)
	}
	in.Routes(mux, cors, perAddress)
	knowledge.Routes(mux)
	a.router = assign.New(a.store, a.hub, in, a.log, a.flow.StopAI, cfg.AgentOfflineDrop, time.Now, a.routerPeers())
	if err := a.router.Load(); err != nil {
		return err
	}
	av, err := avail.New(a.store, a.router.Online, time.Now)
	if err != nil {
		return err
	}
	a.avail = av
	// The admin's away switch holds routing; presence changes reach open
	// widgets (background: availabilityToWidgets).
	a.router.Hold = av.SwitchedAway
	a.router.OnPresence = av.Changed
	site, err := site.New(assets, a.store, origins, func() string { _, _, h := in.Model(); return h }, site.Options{
		FileBytes:    a.files.MaxBytes(),
		Availability: func(lang string) any { return av.ForWidget(lang) },
		Answers:      in.AnswersHash,
	})
	if err != nil {
		return err
	}
	site.Routes(mux, cors)
	a.site = site

	a.authSvc = auth.New(a.store, a.log, auth.Options{
		IdleTimeout: cfg.SessionIdle, AbsoluteTimeout: cfg.SessionAbsolute, HashMemory: int64(cfg.LoginMemoryMiB) << 20,
		Peers: a.authPeers(),
	})
	accounts, err := a.store.Accounts()
	if err != nil {
		return err
	}
	if a.firstPassword, err = a.authSvc.Bootstrap(ctx, cfg.AdminPassword); err != nil {
		return err
	}
	if len(accounts) > 0 && cfg.AdminPassword != "" {
		a.log.Warn("kefu: KEFU_ADMIN_PASSWORD (--admin-password) is ignored: it only sets the first admin's password, and accounts exist. " +
			"To set a password now: stop kefu and run `kefu admin reset-password admin`")
	}
	authn := &auth.HTTP{Svc: a.authSvc, BehindProxy: cfg.BehindProxy}
	authn.Routes(mux)
	files.NewHTTP(a.files, authn, origins).Routes(mux, cors)
	profile.Routes(mux, authn, a.store, a.log)
	// Ratings reach webhooks as conversation.rated from the stored rating
	// message itself, in the event log written in the rating's own commit:
	// nothing is lost on a crash, where csat.LogEvents' second commit could
	// lose it (and wiring both would send each rating twice).
	csat.New(a.store, origins, csat.NoEvents{}, a.log).Routes(mux, cors)
	av.Routes(mux, authn, cors, a.log)
	a.identity.Routes(mux, authn.Require, a.log)
	a.mail, err = mail.New(ctx, a.store, mail.Options{
		Presence: presence{router: a.router, hub: a.hub, elsewhere: a.visitorElsewhere}, Sealer: key,
		Egress: egress.Policy{AllowPrivate: cfg.AllowPrivateDestinations}, Log: a.log,
	})
	if err != nil {
		return explainUnreadable(err, keySource)
	}
	a.mail.Routes(mux, authn)
	a.notify.push.Routes(mux, authn)
	a.flow.OnQueued = a.router.Queued
	a.flow.Available = func() bot.Availability { return botAvailability(av) }
	a.fan.Extra = a.router.OnAppend
	if a.cluster == nil {
		// One node: its appends are all there are. A cluster's nodes
		// index every node's messages from the stream they follow.
		a.fan.Extra = func(ap store.Appended) { a.router.OnAppend(ap); a.search.OnAppend(ap) }
	}
	a.search.Routes(mux, authn)
	ah := agent.New(agent.Options{
		MaxMessageBytes: cfg.MaxMessageBytes,
		HelloTimeout:    cfg.HelloTimeout,
		Conn: hub.ConnOptions{
			// Consoles watch many conversations and replay their history:
			// a longer queue, and more bytes in flight before a pong.
			Queue: max(cfg.SendQueue, 4096), WriteTimeout: cfg.WriteTimeout,
			PingInterval: cfg.PingInterval, ReadLimit: int64(cfg.MaxFrameBytes),
			Window: 4 * hub.DefaultWindow,
		},
		Snapshot: a.flow.SendSnapshot,
	}, authn, a.store, a.hub, a.router, a.log, a.metrics)
	a.router.OnAssigned = ah.Assigned
	mux.Handle("GET /v1/agent/ws", ah)

	vh := visitor.New(visitor.Options{
		Origins:         origins,
		BehindProxy:     cfg.BehindProxy,
		MaxMessageBytes: cfg.MaxMessageBytes,
		RatePerConn:     cfg.RatePerConn,
		RatePerVisitor:  cfg.RatePerVisitor,
		MaxConnsPerIP:   cfg.MaxConnsPerIP,
		Identity:        a.identity.Get,
		RatePerIP:       cfg.RatePerIP,
		HelloTimeout:    cfg.HelloTimeout,
		AnswerTimeout:   cfg.AIAnswerTimeout,
		Conn: hub.ConnOptions{
			Queue: cfg.SendQueue, WriteTimeout: cfg.WriteTimeout,
			PingInterval: cfg.PingInterval, ReadLimit: int64(cfg.MaxFrameBytes),
		},
	}, a.store, a.hub, a.log, a.metrics, visitor.Hooks{
		Message:        a.flow.OnVisitorMessage,
		Joined:         a.flow.Joined,
		Answer:         in.Answer,
		Streaming:      a.flow.Streaming,
		ErasureRequest: a.privacy.Ask,
	})
	mux.Handle("GET /v1/ws", vh.Socket())
	vh.HTTPRoutes(mux, cors)

	admin.New(admin.Deps{
		Store: a.store, Auth: authn, Intents: in, AI: aiSettings, Stream: a.aiTest, Widget: site,
		Router: a.router, Privacy: a.privacy, Knowledge: knowledge, Webhooks: a.notify.webhooks, Log: a.log, BehindProxy: cfg.BehindProxy, PublicURL: cfg.PublicURL,
		Backup: ops.BackupHandler{DB: a.store, SpoolDir: cfg.DataDir, Log: a.log},
	}).Routes(mux)
	return nil
}

// background runs the relay's periodic work: routing retries and offline
// reassignment, purging expired sessions, and the retention sweep.
func (a *App) background(ctx context.Context) {
	a.runNotifiers(ctx)
	a.bg.Add(7)
	go func() { defer a.bg.Done(); a.search.Run(ctx) }()
	go func() { defer a.bg.Done(); a.files.Run(ctx, 10*time.Minute) }()
	go func() { defer a.bg.Done(); a.avail.Watch(ctx, availabilityEvery, a.availabilityToWidgets) }()
	go func() { defer a.bg.Done(); a.mail.Run(ctx) }()
	go func() {
		defer a.bg.Done()
		(&privacy.Sweeper{Svc: a.privacy, Every: a.cfg.RetentionEvery, Batch: a.cfg.RetentionBatch}).Run(ctx)
	}()
	go func() { defer a.bg.Done(); a.router.Run(ctx, 5*time.Second) }()
	go func() {
		defer a.bg.Done()
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			a.authSvc.Purge(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// assetTrees lists the embedded file trees the relay serves.
func assetTrees() []fs.FS { return []fs.FS{public.FS, widget.FS} }

// Addr is the address the relay listens on (useful with port 0).
func (a *App) Addr() string { return a.ln.Addr().String() }

// Store is the relay's database, for tests and tools in this module.
func (a *App) Store() Store { return a.store }

// Auth is the relay's account service, for tests and tools in this module.
func (a *App) Auth() *auth.Service { return a.authSvc }

// Routes lists the patterns the relay serves, for tests that walk them all.
func (a *App) Routes() []string { return a.routes.Patterns() }

// Assets are the relay's embedded files, for tests that walk them all.
func (a *App) Assets() *web.Assets { return a.assets }

// Search is the relay's conversation search and tags, for tests.
func (a *App) Search() *search.Service { return a.search }

// Privacy is the relay's data rights and retention service, for tests.
func (a *App) Privacy() *privacy.Service { return a.privacy }

// Intents is the relay's intent service, for tests and tools in this module.
func (a *App) Intents() *intents.Service { return a.intents }

// Routing reports whether this node routes the queue (always on one node;
// the holder of the router's lease in a cluster).
func (a *App) Routing() bool { return a.cluster == nil || a.cluster.lease.Held() }

// Notifying reports whether this node delivers webhooks now (on a
// cluster, one node at a time).
func (a *App) Notifying() bool { return a.cluster == nil || a.cluster.notifyLease.Held() }

// Router is the relay's chat router, for tests and tools in this module.
func (a *App) Router() *assign.Router { return a.router }

// FirstPassword is the first admin's password when this start generated
// it, for the command to show once on the terminal; "" otherwise.
func (a *App) FirstPassword() string { return a.firstPassword }

// URL is the relay's address for a person to open: --public-url, else the
// listener's (an unspecified host shown as localhost).
func (a *App) URL() string {
	if a.cfg.PublicURL != "" {
		return a.cfg.PublicURL
	}
	host, port, _ := net.SplitHostPort(a.Addr())
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// readyErr is nil while the relay can take traffic: started, not
// stopping, and the database can commit.
func (a *App) readyErr() error {
	if !a.ready.Load() {
		return web.ErrNotReady
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.store.Ready(ctx); err != nil {
		// The details are in the log, not on a public page.
		if a.cluster != nil {
			return cluster.ErrNoQuorum
		}
		return boltdb.ErrCannotCommit
	}
	return nil
}

// Run serves until ctx ends, then shuts down gracefully: stop accepting,
// close every socket with 1012 so clients reconnect, let in-flight commits
// finish, close the database.
func (a *App) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() { errc <- a.server.Serve(a.ln) }()
	bgCtx, stop := context.WithCancel(context.Background())
	a.bgStop = stop
	a.background(bgCtx)
	if a.cluster != nil {
		a.runCluster(bgCtx)
	}
	if a.cfg.PprofAddr != "" {
		// Bound before the relay says it is ready, so ready means the
		// profiling address answers too (TestPprofOnlyBehindItsFlag found
		// it refusing right after /readyz on a loaded box).
		a.pprof = pprofServer(a.cfg.PprofAddr)
		if pln, err := net.Listen("tcp", a.cfg.PprofAddr); err != nil {
			errc <- fmt.Errorf("pprof: %w", err)
		} else {
			go func() {
				if err := a.pprof.Serve(pln); !errors.Is(err, http.ErrServerClosed) {
					errc <- fmt.Errorf("pprof: %w", err)
				}
			}()
			a.log.Info("kefu: profiling endpoints on", "addr", a.cfg.PprofAddr)
		}
	}
	if a.metricsSrv != nil {
		go func() {
			if err := a.metricsSrv.Serve(a.metricsLn); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics: %w", err)
			}
		}()
	}
	if a.control != nil {
		go func() {
			if err := a.control.Serve(); err != nil {
				a.log.Warn("kefu: control socket stopped", "err", err)
			}
		}()
	}
	a.ready.Store(true)
	u := a.URL()
	attrs := []any{"addr", a.Addr(), "version", a.version, "data", a.cfg.DataDir, "storage", a.cfg.Mode()}
	if a.cfg.DemoIntents {
		attrs = append(attrs, "demo", u+"/demo")
	}
	attrs = append(attrs, "admin", u+"/admin/", "console", u+"/console/")
	if a.cfg.MetricsAddr != "" {
		attrs = append(attrs, "metrics", "http://"+a.metricsLn.Addr().String()+"/metrics")
	}
	a.log.Info("kefu: serving", attrs...)
	select {
	case err := <-errc:
		a.ready.Store(false)
		return fmt.Errorf("app: serve: %w", err)
	case <-ctx.Done():
	}
	return a.shutdown()
}

func (a *App) shutdown() error {
	a.ready.Store(false)
	a.log.Info("kefu: shutting down", "connections", a.hub.Len())
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if a.pprof != nil {
		a.pprof.Close()
	}
	if a.control != nil {
		a.control.Close()
	}
	if a.metricsSrv != nil {
		a.metricsSrv.Close()
	}
	// Stop accepting and wait for requests while closing every socket and
	// event stream: server.Shutdown alone would wait for the long-lived
	// event streams to end by themselves.
	httpDone := make(chan error, 1)
	go func() { httpDone <- a.server.Shutdown(ctx) }()
	if err := a.hub.Shutdown(ctx, protocol.CloseRestart, "server restarting"); err != nil {
		errs = append(errs, fmt.Errorf("app: close sockets: %w", err))
	}
	if err := <-httpDone; err != nil {
		errs = append(errs, fmt.Errorf("app: stop http: %w", err))
	}
	// AI answers still streaming are cut and stored (marked incomplete)
	// while the store is still open.
	a.bgStop()
	a.bg.Wait()
	a.flow.Close()
	a.aic.Close()
	a.aiTest.Close()
	if err := a.store.Close(); err != nil {
		errs = append(errs, err)
	}
	if a.cluster != nil {
		a.cluster.close()
	}
	a.log.Info("kefu: stopped")
	return errors.Join(errs...)
}

// Close releases what Open took, for a relay that never ran.
func (a *App) Close() error {
	var errs []error
	if a.control != nil {
		a.control.Close()
	}
	if a.metricsLn != nil {
		a.metricsLn.Close()
	}
	if a.ln != nil {
		if err := a.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if a.flow != nil {
		a.flow.Close()
	}
	if a.store != nil {
		errs = append(errs, a.store.Close())
	}
	if a.cluster != nil {
		a.cluster.close()
	}
	return errors.Join(errs...)
}
