// Command fakeopenai runs the fake OpenAI-compatible upstream of package
// openaitest as a process, for browser tests, the Workers test and the
// benchmark. It prints "listening on http://ADDR/v1" once it accepts
// connections, so a caller that passed --addr 127.0.0.1:0 can read the port.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fakeopenai", flag.ContinueOnError)
	fs.SetOutput(stderr)
	names := make([]string, 0, len(openaitest.Scenarios()))
	for _, s := range openaitest.Scenarios() {
		names = append(names, string(s))
	}
	var (
		addr     = fs.String("addr", "127.0.0.1:8787", "listen address (port 0 picks a free one)")
		scenario = fs.String("scenario", "normal", "default scenario: "+strings.Join(names, ", "))
		text     = fs.String("text", openaitest.DefaultText, "answer text")
		delay    = fs.Duration("delay", 20*time.Millisecond, "wait between content chunks")
		steady   = fs.Bool("steady", false, "one content chunk every --delay on a fixed schedule, not --delay after each send (load tests: streams do not drift into lockstep)")
		chunk    = fs.Int("chunk", openaitest.DefaultChunkRunes, "runes per content chunk")
		words    = fs.Bool("words", false, `chunk as OpenAI does: one " word" (leading space) or punctuation mark per chunk`)
		first    = fs.Duration("first-delay", openaitest.DefaultFirstDelay, "slowfirst: wait before the first chunk")
		retry    = fs.Duration("retry-after", openaitest.DefaultRetryAfter, "429: Retry-After to send")
		stamp    = fs.Bool("stamp", false, `add "x_kefu_sent_ns" to every chunk`)
		stampTxt = fs.Bool("stamp-content", false, `prefix every content chunk with "[t=<unix ns>]"`)
		key      = fs.String("require-key", "", "answer 401 unless this bearer key is sent")
		maxLog   = fs.Int("max-log", 1000, "requests kept in memory (<0: none)")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	sc := openaitest.Scenario(*scenario)
	if !sc.Valid() {
		fmt.Fprintf(stderr, "fakeopenai: unknown scenario %q (want one of %s)\n", *scenario, strings.Join(names, ", "))
		return 2
	}
	h := openaitest.NewHandler(openaitest.Options{
		Scenario: sc, Text: *text, Delay: *delay, ChunkRunes: *chunk, Words: *words, FirstDelay: *first, Steady: *steady,
		RetryAfter: *retry, Stamp: *stamp, StampContent: *stampTxt, RequireKey: *key, MaxLog: *maxLog,
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "fakeopenai: listen: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "listening on http://%s/v1\n", ln.Addr())

	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "fakeopenai: serve: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	h.Close() // release stalled streams so Shutdown does not wait for them
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(stderr, "fakeopenai: shutdown: %v\n", err)
		return 1
	}
	return 0
}
