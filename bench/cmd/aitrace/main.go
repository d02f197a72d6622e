// Command aitrace reads an execution trace of the relay streaming AI
// answers (kefubench --ai-profile trace writes one per 100-stream run:
// bench/results/ai-kefu-100.trace.out) and says where each chunk's time
// in the relay went: from its goroutine made runnable by the upstream's
// bytes (for a first chunk that came with the reply's headers, from the
// network's waking net/http's readLoop, which hands the reply over) to
// the system call that sends it to the visitor, how much of that
// was waiting for a processor, which chunks of their answers the slowest
// 1 % were, and what ran at those moments. go tool trace shows the same
// trace by hand; this lines the slow chunks up with it.
//
//	aitrace [-window 0-130] bench/results/ai-kefu-100.trace.out
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("aitrace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var m matchers
	fs.StringVar(&m.stream, "stream", "bot.(*Flow).answerOnce", "a frame of every answer's goroutine")
	fs.StringVar(&m.read, "read", "poll.(*FD).Read", "the frame an answer's goroutine waits for the upstream in")
	fs.StringVar(&m.write, "write", "hub.(*Conn)", "a frame of the system call that sends a chunk on")
	fs.StringVar(&m.reply, "reply", "http.(*persistConn).roundTrip", "the frame an answer's goroutine waits for the upstream's reply (headers) in; its first chunk may come with them")
	fs.StringVar(&m.replier, "replier", "http.(*persistConn).readLoop", "a frame of the goroutine that reads the reply and hands it over")
	window := fs.String("window", "", "a stretch of the trace, in ms from its start (e.g. 0-130): what ran, and the system calls made")
	top := fs.Int("top", 10, "lines per list")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: aitrace [flags] TRACE")
		return 2
	}
	var w [2]float64
	if *window != "" {
		if _, err := fmt.Sscanf(*window, "%g-%g", &w[0], &w[1]); err != nil || w[1] <= w[0] {
			fmt.Fprintf(stderr, "aitrace: -window %q: want FROM-TO in ms\n", *window)
			return 2
		}
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "aitrace:", err)
		return 1
	}
	defer f.Close()
	r, err := analyze(f, m)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := report(stdout, r, w, *top); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
