// Command kefu is the Kefu relay: one static binary holding visitor and
// agent chat sessions, persisting them in bbolt.
//
//	kefu [serve] [flags]                    run the relay (the default)
//	kefu version                            print the version
//	kefu healthcheck                        exit 0 when the relay at --addr answers /healthz
//	kefu check [--data DIR | --file FILE]   verify every page and record of the database
//	kefu repair [--data DIR]                set damaged records aside so the relay can start
//	kefu backup [--data DIR] FILE|-         a consistent copy, also while the relay runs
//	kefu admin reset-password [--data DIR] USER   a new password, the relay stopped
//	kefu migrate                            copy a single-node data directory into JetStream
//	kefu visitor find|export|erase [--data DIR] …   a visitor's data, the relay stopped
//
// docs/operations.md describes each (kefu visitor: docs/privacy.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kefuhq/kefu/relay/internal/app"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command, callable from tests. Exit codes: 0 done, 1 failed
// while running, 2 bad usage or configuration.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "kefu %s\n", version)
		return 0
	case "healthcheck":
		return healthcheck(ctx, args, getenv, stderr)
	case "check":
		return check(ctx, args, getenv, stdout, stderr)
	case "repair":
		return repair(ctx, args, getenv, stdout, stderr)
	case "backup":
		return backup(ctx, args, getenv, stderr)
	case "admin":
		return adminCmd(ctx, args, getenv, os.Stdin, stdout, stderr)
	case "migrate":
		return migrateCmd(ctx, args, stdout, stderr)
	case "visitor":
		return visitorCmd(ctx, args, getenv, stdout, stderr)
	case "help":
		config.WriteUsage(stdout)
		fmt.Fprint(stdout, toolsUsage)
		fmt.Fprint(stdout, "\n"+visitorUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "kefu: unknown command %q (serve, version, healthcheck, check, repair, backup, admin, migrate, visitor, help)\n", cmd)
		return 2
	}
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := config.Parse(args, getenv, stdout)
	if errors.Is(err, config.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "kefu: %v\n", err)
		return 2
	}
	log := newLogger(cfg, stderr)
	log.Info("kefu: starting", append([]any{"version", version}, cfg.ChangedAttrs()...)...)
	log.Debug("kefu: configuration", cfg.LogAttrs()...)
	setProcs(getenv, log)
	defer setHeapFloor(cfg.HeapFloorMiB, getenv, log)()
	a := app.New(cfg, log, version)
	if err := a.Open(ctx); err != nil {
		switch {
		case errors.Is(err, boltdb.ErrLocked):
			fmt.Fprintf(stderr, "kefu: %s is in use by another kefu process; stop it or choose another --data\n", cfg.DataDir)
		case errors.Is(err, store.ErrCorrupt):
			fmt.Fprintf(stderr, "kefu: %v\n", err)
			fmt.Fprintf(stderr, "kefu: the database in %s is damaged. `kefu check --data %[1]s` lists what is wrong;\n"+
				"      `kefu repair --data %[1]s` sets damaged records aside and keeps the damaged file (or start with --repair=true).\n", cfg.DataDir)
		default:
			fmt.Fprintf(stderr, "kefu: %v\n", err)
		}
		return 1
	}
	if pw := a.FirstPassword(); pw != "" {
		firstPassword(stderr, a.URL(), pw)
	}
	if err := a.Run(ctx); err != nil {
		log.Error("kefu: stopped with an error", "err", err)
		return 1
	}
	return 0
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// healthcheck lets a scratch container check itself without curl.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, err := config.Parse(args, getenv, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "kefu: %v\n", err)
		return 2
	}
	_, port, _ := net.SplitHostPort(cfg.Addr)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort("127.0.0.1", port)+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "kefu: healthcheck: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "kefu: healthcheck: %s\n", resp.Status)
		return 1
	}
	return 0
}

// firstPassword shows the generated password of the first admin once, on
// the terminal and not in the structured log: log files are kept,
// shipped and read by more people than the admin.
func firstPassword(w io.Writer, url, pw string) {
	fmt.Fprintf(w, `
  ┌─ Kefu created the first admin account ────────────────────────
  │  Sign in at  %s/admin/
  │  username    admin
  │  password    %s
  │
  │  This is shown only once. Lost it? Stop kefu and run
  │  kefu admin reset-password admin
  └───────────────────────────────────────────────────────────────

`, url, pw)
}
