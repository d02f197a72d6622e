package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/kefuhq/kefu/relay/internal/testkit"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// kefuBin is the real binary, built once for the tests that run it.
var kefuBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kefu-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	kefuBin = filepath.Join(dir, "kefu")
	build := exec.Command("go", "build", "-o", kefuBin, "-ldflags", "-X main.version=test-build", ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build kefu: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running kefu process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func freePort(t *testing.T) string {
	t.Helper()
	return testkit.FreeAddr(t)
}

// startKefu runs the binary and waits until /readyz answers.
func startKefu(t *testing.T, addr, data string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"serve", "--addr", addr, "--data", data, "--log-level", "warn", "--max-conns-per-ip", "0", "--rate-per-ip", "0", "--rate-per-conn", "1000", "--rate-per-visitor", "1000"}, extra...)
	p := &proc{t: t, addr: addr, done: make(chan struct{})}
	p.cmd = exec.Command(kefuBin, args...)
	p.cmd.Stderr = p
	p.cmd.Stdout = p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	// Generous: on a loaded 2-core box a cold start (argon2id for the first
	// admin, the demo intents' fit) can take several seconds.
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("kefu exited before ready: %v\n%s", p.err, p.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kefu not ready: %v\n%s", err, p.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// term sends SIGTERM and returns the exit code.
func (p *proc) term(ctx context.Context) int {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-ctx.Done():
		p.t.Fatalf("kefu did not stop on SIGTERM\n%s", p.log())
	}
	return p.cmd.ProcessState.ExitCode()
}
