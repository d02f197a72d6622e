package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kefuhq/kefu/bench/internal/proc"
	"github.com/kefuhq/kefu/bench/internal/prom"
)

// Server kinds.
const (
	kindKefu        = "kefu"
	kindBare        = "bare"
	kindBareDurable = "bare+bbolt"
	// kindKefuVisitors is Kefu with chat traffic received by a second
	// visitor socket per conversation instead of agent sockets.
	kindKefuVisitors = "kefu, visitor sockets receive"
	// kindKefuNoLog is Kefu writing messages straight into the
	// per-conversation tree, the store's layout before the message log
	// (issue 16): new layout against old in one run.
	kindKefuNoLog = "kefu --log-compact-at 0 (no log)"
)

// oneStep says whether a server runs only the target rate of the chat
// ramp: Kefu's old layout, a comparison point. bare+bbolt ramps through
// the same steps as Kefu: issue 16 compares the knees.
func oneStep(kind string) bool { return kind == kindKefuNoLog }

// fileName is kind as a part of a file name.
func fileName(kind string) string {
	return strings.NewReplacer("+", "-", " ", "-", ",", "").Replace(kind)
}

// server is a relay under test: kefu or the bare baseline.
type server struct {
	kind    string
	name    string
	p       *proc.Proc
	addr    string // 127.0.0.1:PORT
	pprof   string // 127.0.0.1:PORT
	metrics string // 127.0.0.1:PORT, kefu's --metrics-addr
	data    string
}

func (s *server) url(path string) string { return "http://" + s.addr + path }
func (s *server) ws(path string) string  { return "ws://" + s.addr + path }

// adminPassword is the first admin's password in every benchmark relay.
const adminPassword = "bench-admin-password-1"

// startKefu runs bin/kefu on a fresh data directory with the load flags.
func (b *bench) startKefu(ctx context.Context, name string, extra []string, env []string) (*server, error) {
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	pport, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	mport, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	data, err := proc.TempDir(b.cfg.Work, name+"-data-")
	if err != nil {
		return nil, err
	}
	s := &server{kind: kindKefu, name: name, addr: fmt.Sprintf("127.0.0.1:%d", port), pprof: fmt.Sprintf("127.0.0.1:%d", pport),
		metrics: fmt.Sprintf("127.0.0.1:%d", mport), data: data}
	// /metrics is not on the public port: the relay serves it on its own.
	args := append([]string{"serve", "--addr", s.addr, "--data", data,
		"--max-conns-per-ip", "0", "--rate-per-ip", "0", "--rate-per-conn", "100000", "--rate-per-visitor", "100000",
		"--send-queue", "1024", "--log-level", "warn", "--pprof-addr", s.pprof, "--metrics-addr", s.metrics}, extra...)
	// The relay must not see an OpenAI key from the environment unless the
	// scenario gives one.
	env = append([]string{"KEFU_ADMIN_PASSWORD=" + adminPassword, "OPENAI_API_KEY=", "OPENAI_BASE_URL="}, env...)
	s.p, err = b.procs.Start(proc.Spec{Name: name, Path: b.cfg.Kefu, Args: args, Env: env, LogFile: filepath.Join(b.cfg.Work, name+".log"), CPUs: b.pin.relay})
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := proc.WaitHTTP(wctx, s.url("/readyz"), s.p); err != nil {
		return nil, fmt.Errorf("%w (log: %s)", err, tail(filepath.Join(b.cfg.Work, name+".log")))
	}
	b.res.Commands = appendOnce(b.res.Commands, "kefu "+strings.Join(redactPorts(args), " "))
	return s, nil
}

// startBare runs the baseline, with a bbolt group commit when durable,
// on b.pin.relay's CPUs when set; extra are more flags.
func (b *bench) startBare(ctx context.Context, name string, durable bool, extra ...string) (*server, error) {
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	pport, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	s := &server{kind: kindBare, name: name, addr: fmt.Sprintf("127.0.0.1:%d", port), pprof: fmt.Sprintf("127.0.0.1:%d", pport)}
	args := []string{"--addr", s.addr, "--pprof-addr", s.pprof}
	if durable {
		s.kind = kindBareDurable
		if s.data, err = proc.TempDir(b.cfg.Work, name+"-data-"); err != nil {
			return nil, err
		}
		args = append(args, "--durable", s.data)
	}
	args = append(args, extra...)
	s.p, err = b.procs.Start(proc.Spec{Name: name, Path: b.path("bare"), Args: args, LogFile: filepath.Join(b.cfg.Work, name+".log"), CPUs: b.pin.relay})
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := proc.WaitHTTP(wctx, s.url("/healthz"), s.p); err != nil {
		return nil, err
	}
	b.res.Commands = appendOnce(b.res.Commands, "bare "+strings.Join(redactPorts(args), " "))
	return s, nil
}

// stop ends the server and removes its data.
func (s *server) stop() {
	s.p.Stop(10 * time.Second)
	if s.data != "" {
		os.RemoveAll(s.data)
	}
}

// counters are the server-side figures read between two moments.
type counters struct {
	Goroutines float64
	HeapInuse  float64
	Commits    float64 // transactions (each one fsync)
	Writes     float64 // writes they carried
	StackInuse float64
	CommitSecs float64 // time spent committing (fsyncs included)
}

// read samples the server's own counters: /metrics for kefu, /stats for
// the baseline.
func (s *server) read(ctx context.Context) (counters, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if s.kind == kindKefu {
		m, err := prom.Scrape(ctx, "http://"+s.metrics+"/metrics")
		if err != nil {
			return counters{}, err
		}
		return counters{
			Goroutines: m.Get("go_goroutines"), HeapInuse: m.Get("go_memstats_heap_inuse_bytes"), StackInuse: m.Get("go_memstats_stack_inuse_bytes"),
			Commits: m.Get("kefu_store_commit_seconds_count"), Writes: m.Get("kefu_store_commit_batch_size_sum"),
			CommitSecs: m.Get("kefu_store_commit_seconds_sum"),
		}, nil
	}
	var st struct {
		Goroutines float64 `json:"goroutines"`
		HeapInuse  float64 `json:"heap_inuse"`
		StackInuse float64 `json:"stack_inuse"`
		Commits    float64 `json:"commits"`
		Batched    float64 `json:"batched"`
		CommitNS   float64 `json:"commit_ns"`
	}
	if err := getJSON(ctx, s.url("/stats"), &st); err != nil {
		return counters{}, err
	}
	return counters{Goroutines: st.Goroutines, HeapInuse: st.HeapInuse, StackInuse: st.StackInuse, Commits: st.Commits, Writes: st.Batched, CommitSecs: st.CommitNS / 1e9}, nil
}

// profile saves a pprof profile of the server: kind is cpu (for secs
// seconds), heap, allocs (a delta over secs when secs > 0) or goroutine.
func (b *bench) profile(ctx context.Context, s *server, kind string, secs int, file string) error {
	path := "/debug/pprof/" + kind
	if kind == "cpu" {
		path = "/debug/pprof/profile"
	}
	if kind == "trace" {
		file = strings.TrimSuffix(file, ".pprof") + ".out"
	}
	if secs > 0 {
		path += "?seconds=" + strconv.Itoa(secs)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs+20)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.pprof+path, nil)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s of %s: %w", kind, s.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s of %s: %s", kind, s.name, resp.Status)
	}
	f, err := os.Create(filepath.Join(b.cfg.Out, file))
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		return fmt.Errorf("profile %s: %w", file, err)
	}
	b.res.Profiles = append(b.res.Profiles, Profile{File: file, Server: s.name, Kind: kind, Seconds: secs})
	return nil
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// tail is the end of a log file, for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 600 {
		b = b[len(b)-600:]
	}
	return strings.TrimSpace(string(b))
}

// redactPorts replaces the run's random ports and directories so the
// commands in the report read the same on every run.
func redactPorts(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "127.0.0.1:"):
			out[i] = "127.0.0.1:PORT"
		case strings.HasPrefix(a, "http://127.0.0.1:"):
			rest := strings.TrimPrefix(a, "http://127.0.0.1:")
			path := ""
			if j := strings.IndexByte(rest, '/'); j >= 0 {
				path = rest[j:]
			}
			out[i] = "http://127.0.0.1:PORT" + path
		case strings.HasPrefix(a, os.TempDir()) || strings.Contains(a, "kefubench-"):
			out[i] = "DIR"
		default:
			out[i] = a
		}
	}
	return out
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
