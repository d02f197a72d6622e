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
	"sync/atomic"
	"time"

	"github.com/kefuhq/kefu/public"
	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/metrics"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/visitor"
	"github.com/kefuhq/kefu/relay/internal/web"
	"github.com/kefuhq/kefu/relay/protocol"
)

// App is a running relay.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	version string

	metrics *metrics.Metrics
	hub     *hub.Hub
	store   *store.Store
	server  *http.Server
	ln      net.Listener
	ready   atomic.Bool
}

// New returns an unopened relay; it does no I/O.
func New(cfg config.Config, log *slog.Logger, version string) *App {
	return &App{cfg: cfg, log: log, version: version, metrics: metrics.New(), hub: hub.New()}
}

// Open opens the database and the listener and builds the routes.
func (a *App) Open() error {
	fan := &chat.Fanout{Hub: a.hub, Metrics: a.metrics}
	st, err := store.Open(a.cfg.DataDir, store.Options{
		LockTimeout: a.cfg.DBLockTimeout,
		MaxBatch:    a.cfg.MaxBatch,
		Logger:      a.log,
		OnCommit:    a.metrics.ObserveCommit,
		OnAppend:    fan.OnAppend,
	})
	if err != nil {
		return err
	}
	a.store = st

	assets, err := web.LoadAssets(assetTrees()...)
	if err != nil {
		st.Close()
		return err
	}
	mux := http.NewServeMux()
	(&web.Server{Assets: assets, Metrics: a.metrics, Ready: a.readyErr}).Routes(mux)
	vh := visitor.New(visitor.Options{
		AllowedOrigins:  a.cfg.AllowedOrigins,
		BehindProxy:     a.cfg.BehindProxy,
		MaxMessageBytes: a.cfg.MaxMessageBytes,
		RatePerConn:     a.cfg.RatePerConn,
		RatePerVisitor:  a.cfg.RatePerVisitor,
		MaxConnsPerIP:   a.cfg.MaxConnsPerIP,
		HelloTimeout:    a.cfg.HelloTimeout,
		Conn: hub.ConnOptions{
			Queue: a.cfg.SendQueue, WriteTimeout: a.cfg.WriteTimeout,
			PingInterval: a.cfg.PingInterval, ReadLimit: int64(a.cfg.MaxFrameBytes),
		},
	}, st, a.hub, a.log, a.metrics, visitor.Hooks{})
	mux.Handle("GET /v1/ws", vh)

	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		st.Close()
		return fmt.Errorf("app: listen on %s: %w", a.cfg.Addr, err)
	}
	a.ln = ln
	a.server = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	return nil
}

// assetTrees lists the embedded file trees the relay serves.
func assetTrees() []fs.FS { return []fs.FS{public.FS} }

// Addr is the address the relay listens on (useful with port 0).
func (a *App) Addr() string { return a.ln.Addr().String() }

// Store is the relay's database, for tests and tools in this module.
func (a *App) Store() *store.Store { return a.store }

func (a *App) readyErr() error {
	if !a.ready.Load() {
		return web.ErrNotReady
	}
	return nil
}

// Run serves until ctx ends, then shuts down gracefully: stop accepting,
// close every socket with 1012 so clients reconnect, let in-flight commits
// finish, close the database.
func (a *App) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- a.server.Serve(a.ln) }()
	a.ready.Store(true)
	a.log.Info("kefu: serving", "addr", a.Addr(), "version", a.version, "data", a.cfg.DataDir)
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
	if err := a.server.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("app: stop http: %w", err))
	}
	if err := a.hub.Shutdown(ctx, protocol.CloseRestart, "server restarting"); err != nil {
		errs = append(errs, fmt.Errorf("app: close sockets: %w", err))
	}
	if err := a.store.Close(); err != nil {
		errs = append(errs, err)
	}
	a.log.Info("kefu: stopped")
	return errors.Join(errs...)
}

// Close releases what Open took, for a relay that never ran.
func (a *App) Close() error {
	var errs []error
	if a.ln != nil {
		if err := a.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if a.store != nil {
		errs = append(errs, a.store.Close())
	}
	return errors.Join(errs...)
}
