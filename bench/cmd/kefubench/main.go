// Command kefubench is `make bench`: it runs every benchmark scenario
// against the real kefu binary and, on the same load and back to back, the
// bare baseline (bench/cmd/bare), on 127.0.0.1 only, and writes
// docs/benchmarks.md with the raw results beside it. Every process it
// starts is killed when it ends, also on failure; every run is bounded in
// count and time.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kefuhq/kefu/bench/internal/proc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the command line.
type config struct {
	Quick     bool
	Kefu      string // the relay binary
	Bin       string // loadgen, bare, fakeopenai
	Out       string // raw results and profiles
	Doc       string // the markdown report
	Work      string // scratch: data directories, logs
	Node      string // bench/widget, with node_modules
	Scenarios map[string]bool
	Budget    time.Duration
	SoakFor   time.Duration // the soak scenario's length
	SoakRate  float64       // and its offered msg/s
	// CapSessions and CapIdle shrink the capacity scenario while
	// developing (0: 19 500 sessions, 30 s idle).
	CapSessions int
	CapIdle     time.Duration
	AIStreams   map[int]bool    // the ai scenario's levels to run (nil: all)
	AISweep     []time.Duration // more pinned 1 000-stream runs, chunks this far apart
	AIProfile   string          // when Kefu's AI runs are profiled: apart, during, trace or off
	AIRounds    int             // rounds of the shared 100-stream level, paths alternating, pooled
	ChatRates   []float64       // the chat scenario's offered rates (nil: all)
	ProfileRate float64         // the chat scenario's profiled step (0: 10 000 msg/s)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kefubench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var scen string
	fs.BoolVar(&cfg.Quick, "quick", false, "the same scenarios, small (≤ 60 s)")
	fs.StringVar(&cfg.Kefu, "kefu", "bin/kefu", "the kefu binary to measure")
	fs.StringVar(&cfg.Bin, "bin", "bin", "directory with loadgen, bare and fakeopenai")
	fs.StringVar(&cfg.Out, "out", "bench/results", "directory for raw results and profiles")
	fs.StringVar(&cfg.Doc, "doc", "docs/benchmarks.md", "report to write")
	fs.StringVar(&cfg.Work, "work", "", "scratch directory (default: a new one under $TMPDIR)")
	fs.StringVar(&cfg.Node, "node", "bench/widget", "the widget benchmark's npm package (node_modules installed)")
	fs.StringVar(&scen, "scenarios", "capacity,chat,durable,ai,widget,modelload,search", "scenarios to run, comma-separated")
	fs.DurationVar(&cfg.Budget, "budget", 0, "stop everything after this long (default 12m, quick 55s)")
	fs.DurationVar(&cfg.SoakFor, "soak-for", 10*time.Minute, "the soak scenario (not in the default list; give --budget): how long Kefu runs chat traffic")
	fs.Float64Var(&cfg.SoakRate, "soak-rate", 7000, "the soak scenario's offered msg/s (70% of the knee in docs/benchmarks.md)")
	fs.IntVar(&cfg.CapSessions, "capacity-sessions", 0, "the capacity scenario's sessions (default 19500; fewer while developing, the report's figure is the default)")
	fs.DurationVar(&cfg.CapIdle, "capacity-idle", 0, "the capacity scenario's idle window (default 30s)")
	aiStreams := fs.String("ai-streams", "", "the ai scenario's levels to run, comma-separated stream counts (default: all; for development, the report shows only these)")
	aiSweep := fs.String("ai-sweep", "80ms", "the ai scenario's extra pinned 1 000-stream runs, at these intervals between chunks (comma-separated; \"\": none), with Kefu's floor (bench/cmd/bare --ai-upstream)")
	fs.StringVar(&cfg.AIProfile, "ai-profile", "apart", "Kefu's AI profiles (100 streams and more): \"apart\" in a run of their own, \"during\" the measured run (the profiler's cost counted), \"trace\" (an execution trace, apart), \"off\"")
	fs.IntVar(&cfg.AIRounds, "ai-rounds", 5, "rounds of the shared 100-stream level (issue 13's), the paths taking turns; each path's chunks pooled")
	chatRates := fs.String("chat-rates", "", "the chat scenario's offered msg/s, comma-separated (default: the whole ramp; for development, e.g. 10000 for the p99 at 10 000 msg/s)")
	fs.Float64Var(&cfg.ProfileRate, "profile-rate", 0, "the chat scenario's profiled step in msg/s (default 10000; for development, e.g. 5000 to profile the knee)")
	verbose := fs.Bool("v", false, "debug logging")
	reportOnly := fs.Bool("report-only", false, "rewrite the report from OUT/results.json (after editing bench/notes.md) without running anything")
	merge := fs.Bool("merge", false, "keep OUT/results.json's figures of the scenarios not run (one scenario re-measured; its section says when)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.Scenarios = map[string]bool{}
	for _, s := range strings.Split(scen, ",") {
		cfg.Scenarios[strings.TrimSpace(s)] = true
	}
	if *aiStreams != "" {
		cfg.AIStreams = map[int]bool{}
		for _, f := range strings.Split(*aiStreams, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				fmt.Fprintf(stderr, "kefubench: --ai-streams: %q is not a stream count\n", f)
				return 2
			}
			cfg.AIStreams[n] = true
		}
	}
	if cfg.AIRounds < 1 {
		fmt.Fprintf(stderr, "kefubench: --ai-rounds: %d is not a count of rounds\n", cfg.AIRounds)
		return 2
	}
	switch cfg.AIProfile {
	case "apart", "during", "trace", "off":
	default:
		fmt.Fprintf(stderr, "kefubench: --ai-profile: %q is not apart, during, trace or off\n", cfg.AIProfile)
		return 2
	}
	for _, f := range strings.Split(*aiSweep, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d <= 0 {
			fmt.Fprintf(stderr, "kefubench: --ai-sweep: %q is not an interval\n", f)
			return 2
		}
		cfg.AISweep = append(cfg.AISweep, d)
	}
	for _, f := range strings.Split(*chatRates, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		r, err := strconv.ParseFloat(f, 64)
		if err != nil || r <= 0 {
			fmt.Fprintf(stderr, "kefubench: --chat-rates: %q is not a rate\n", f)
			return 2
		}
		cfg.ChatRates = append(cfg.ChatRates, r)
	}
	if cfg.Budget == 0 {
		cfg.Budget = 720 * time.Second
		if cfg.Quick {
			cfg.Budget = 55 * time.Second
		}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if cfg.Work == "" {
		d, err := os.MkdirTemp("", "kefubench-")
		if err != nil {
			fmt.Fprintf(stderr, "kefubench: %v\n", err)
			return 1
		}
		cfg.Work = d
		defer os.RemoveAll(d)
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		fmt.Fprintf(stderr, "kefubench: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Budget)
	defer cancel()

	b := &bench{cfg: cfg, log: log, procs: proc.NewGroup(log), res: &Results{}}
	if *reportOnly {
		raw, err := os.ReadFile(filepath.Join(cfg.Out, "results.json"))
		if err == nil {
			err = json.Unmarshal(raw, b.res)
		}
		if err == nil {
			err = b.write()
		}
		if err != nil {
			fmt.Fprintf(stderr, "kefubench: %v\n", err)
			return 1
		}
		return 0
	}
	defer b.procs.StopAll()
	if *merge {
		raw, err := os.ReadFile(filepath.Join(cfg.Out, "results.json"))
		if err == nil {
			err = json.Unmarshal(raw, b.res)
		}
		if err != nil {
			fmt.Fprintf(stderr, "kefubench: --merge: %v\n", err)
			return 1
		}
		b.merged = true
	}
	if err := b.runAll(ctx); err != nil {
		log.Error("benchmark failed", "err", err)
		b.res.Failures = append(b.res.Failures, err.Error())
	}
	b.procs.StopAll()
	if err := b.write(); err != nil {
		fmt.Fprintf(stderr, "kefubench: write results: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "kefubench: wrote %s and %s in %v\n", cfg.Doc, filepath.Join(cfg.Out, "results.json"), b.res.Elapsed())
	if len(b.res.Failures) > 0 {
		fmt.Fprintf(stdout, "kefubench: %d scenario failures, see the report\n", len(b.res.Failures))
		return 1
	}
	return 0
}

// bench is one run.
type bench struct {
	cfg     config
	log     *slog.Logger
	procs   *proc.Group
	res     *Results
	nextIP  int
	cookie  string // the admin's session for agent sockets
	fakePid int    // the fake upstream, while the AI scenario runs
	merged  bool   // runAll adds to an earlier run's results (--merge)
	pin     cpuPin // CPUs for the processes started now (the AI scenario's pinned run)
}

// cpuPin confines the relay and the load (fake upstream, generators) to
// separate CPUs; empty fields leave processes free.
type cpuPin struct{ relay, load string }

func (b *bench) runAll(ctx context.Context) error {
	if !b.merged {
		// A merged run keeps the full run's facts: the page's header is
		// about that run, and the re-measured section says its own.
		b.res.Machine = machineFacts(ctx, b.cfg)
		b.res.Quick = b.cfg.Quick
		b.res.Started = time.Now().UTC()
		defer func() { b.res.Finished = time.Now().UTC(); b.res.LoadEnd = loadAvg() }()
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"capacity", b.capacity},
		{"chat", b.chatAndDurable},
		{"ai", b.aiStreaming},
		{"widget", b.widget},
		{"modelload", b.modelLoad},
		{"search", b.search},
		{"soak", b.soak},
	}
	for _, s := range steps {
		if !b.cfg.Scenarios[s.name] && !(s.name == "chat" && b.cfg.Scenarios["durable"]) {
			continue
		}
		if ctx.Err() != nil {
			return fmt.Errorf("out of time before %s: %w", s.name, ctx.Err())
		}
		t := time.Now()
		b.log.Info("scenario", "name", s.name)
		if err := s.fn(ctx); err != nil {
			b.log.Error("scenario failed", "name", s.name, "err", err)
			b.res.Failures = append(b.res.Failures, fmt.Sprintf("%s: %v", s.name, err))
		}
		b.procs.StopAll()
		if !b.merged { // the timings are the full run's wall time
			b.res.Timings = append(b.res.Timings, Timing{Scenario: s.name, Seconds: time.Since(t).Seconds()})
		}
	}
	return nil
}

// srcIP hands every generator process of the run its own loopback source
// address, so no two share an ephemeral port range (TIME_WAIT from an
// earlier scenario cannot bite).
func (b *bench) srcIP() string {
	b.nextIP++
	return fmt.Sprintf("127.0.%d.%d", 1+b.nextIP/250, 1+b.nextIP%250)
}

func (b *bench) path(name string) string { return filepath.Join(b.cfg.Bin, name) }
