// Package proc starts and stops the benchmark's processes and reads what
// the kernel knows about them: resident memory, CPU time, open files.
package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Group tracks every process the benchmark started so that all of them are
// killed when it ends, also on failure.
type Group struct {
	log   *slog.Logger
	mu    sync.Mutex
	procs []*Proc
}

// NewGroup returns an empty group.
func NewGroup(log *slog.Logger) *Group { return &Group{log: log} }

// Proc is one started process.
type Proc struct {
	Name  string
	Cmd   *exec.Cmd
	done  chan struct{}
	err   error
	Stdin io.WriteCloser
	// Stdout is the process's output, line by line, when Start was asked
	// to keep it; else it goes to the log file.
	Stdout *bufio.Scanner
}

// Spec says how to start a process.
type Spec struct {
	Name    string
	Path    string
	Args    []string
	Env     []string // added to the benchmark's own environment
	LogFile string   // stderr (and stdout unless Pipe) goes here
	Pipe    bool     // give the caller stdin and stdout
	// CPUs, when set, confines the process to these CPUs (a taskset(1)
	// list such as "0" or "1-3"); its threads inherit it.
	CPUs string
}

// Start runs a process in its own process group; the kernel kills it if
// the benchmark dies (Pdeathsig), and Group.Stop kills it otherwise.
func (g *Group) Start(s Spec) (*Proc, error) {
	cmd := exec.Command(s.Path, s.Args...)
	if s.CPUs != "" {
		// taskset execs the program: the pid is the program's.
		cmd = exec.Command("taskset", append([]string{"-c", s.CPUs, s.Path}, s.Args...)...)
	}
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(s.LogFile)
	if err != nil {
		return nil, fmt.Errorf("proc: log for %s: %w", s.Name, err)
	}
	cmd.Stderr = logf
	p := &Proc{Name: s.Name, Cmd: cmd, done: make(chan struct{})}
	if s.Pipe {
		if p.Stdin, err = cmd.StdinPipe(); err != nil {
			return nil, fmt.Errorf("proc: %s stdin: %w", s.Name, err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, fmt.Errorf("proc: %s stdout: %w", s.Name, err)
		}
		p.Stdout = bufio.NewScanner(out)
		p.Stdout.Buffer(make([]byte, 1<<20), 64<<20)
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("proc: start %s: %w", s.Name, err)
	}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	g.mu.Lock()
	g.procs = append(g.procs, p)
	g.mu.Unlock()
	g.log.Debug("started", "name", s.Name, "pid", cmd.Process.Pid, "args", strings.Join(s.Args, " "))
	return p, nil
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stop asks the process to end (SIGTERM), waits up to grace, then kills
// its whole process group.
func (p *Proc) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	syscall.Kill(p.Pid(), syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		syscall.Kill(-p.Pid(), syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("proc: %s did not stop within %v; killed", p.Name, grace)
	}
	return nil
}

// StopAll stops every process still running, each by its own id.
func (g *Group) StopAll() {
	g.mu.Lock()
	procs := g.procs
	g.procs = nil
	g.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Stop(5 * time.Second); err != nil {
				g.log.Warn("stop", "err", err)
			}
		}()
	}
	wg.Wait()
}

// Stat is what /proc says about a process at one moment.
type Stat struct {
	At      time.Time
	RSS     int64 // bytes
	RSSAnon int64
	RSSFile int64         // file pages mapped (bbolt's mmap, the binary)
	CPU     time.Duration // user + system
	Threads int
	OpenFDs int
}

// Read samples /proc/PID.
func Read(pid int) (Stat, error) {
	s := Stat{At: time.Now()}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("proc: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			s.RSS = n * 1024
		case "RssAnon":
			s.RSSAnon = n * 1024
		case "RssFile":
			s.RSSFile = n * 1024
		case "Threads":
			s.Threads = int(n)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("proc: %w", err)
	}
	// Fields after the command name (which may hold spaces) start at ")".
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return s, errors.New("proc: unreadable stat")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) > 13 {
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		s.CPU = time.Duration(ut+st) * time.Second / clockTicks
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		s.OpenFDs = len(ents)
	}
	return s, nil
}

// clockTicks is USER_HZ, 100 on every Linux the benchmark runs on.
const clockTicks = 100

// CPUShare is the CPU used between two samples as a fraction of one core.
func CPUShare(a, b Stat) float64 {
	wall := b.At.Sub(a.At)
	if wall <= 0 {
		return 0
	}
	return float64(b.CPU-a.CPU) / float64(wall)
}

// WaitHTTP polls url until it answers 200 or ctx ends.
func WaitHTTP(ctx context.Context, url string, p *Proc) error {
	for {
		if ready(ctx, url) == nil {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("proc: %s exited while starting: %v", p.Name, p.err)
		case <-ctx.Done():
			return fmt.Errorf("proc: %s not ready at %s: %w", p.Name, url, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TempDir makes a fresh directory under dir.
func TempDir(dir, pattern string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("proc: %w", err)
	}
	d, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		return "", fmt.Errorf("proc: %w", err)
	}
	return filepath.Clean(d), nil
}

// BoxCPU is the whole machine's busy CPU time so far (all cores, from
// /proc/stat): comparing it with the processes under test shows how much
// other work ran during a measurement.
func BoxCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("proc: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, errors.New("proc: unreadable /proc/stat")
	}
	var busy int64
	// user nice system idle iowait irq softirq steal: all but idle and iowait.
	for i, v := range f[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks, nil
}
