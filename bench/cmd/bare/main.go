// Command bare is the baseline Kefu is measured against: a minimal
// coder/websocket relay that speaks just enough of Kefu's wire protocol for
// the same load generator to drive it (hello → welcome, message → fan-out
// to every socket of the conversation, then ack; an agent socket that can
// watch conversations), with none of Kefu's application logic: no strict
// decoder, no limits, no per-connection writer goroutine, no bot, and no
// persistence unless --durable asks for a minimal bbolt group commit.
// With --ai-upstream it also answers every visitor message with an
// OpenAI-compatible upstream's streamed completion, one delta frame per
// chunk and nothing else: the floor of Kefu's AI streaming (ai.go).
//
// It is what "a bare relay on this box" means in docs/benchmarks.md: every
// Kefu figure there is quoted as a ratio to this server on the same load in
// the same run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("bare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr      = fs.String("addr", "127.0.0.1:8030", "listen address")
		pprofAddr = fs.String("pprof-addr", "", "serve /debug/pprof/ here (empty: off)")
		durable   = fs.String("durable", "", "directory for a bbolt file: store each new session's conversation record before its welcome and each message before fan-out and ack, with group commit (empty: memory only)")
		ping      = fs.Duration("ping-interval", 10*time.Second, "WebSocket ping period per connection (Kefu's default)")
		aiURL     = fs.String("ai-upstream", "", "an OpenAI-compatible base URL (…/v1): answer every visitor message with its streamed completion, as delta frames (the AI floor; empty: off)")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := newServer(*durable, *aiURL, *ping, log)
	if err != nil {
		fmt.Fprintf(stderr, "bare: %v\n", err)
		return 1
	}
	// No store close on exit: handlers may still be writing, and the
	// benchmark throws the file away.
	go srv.pinger(ctx)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "bare: listen: %v\n", err)
		return 1
	}
	hs := &http.Server{Handler: srv.routes(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	if *pprofAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		ps := &http.Server{Addr: *pprofAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- ps.ListenAndServe() }()
		defer ps.Close()
	}
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "bare: serve: %v\n", err)
			return 1
		}
	case <-ctx.Done():
	}
	// The benchmark is done with it: no graceful close of the sockets.
	hs.Close()
	return 0
}
