package main

import (
	"bytes"
	"context"
	"debug/elf"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/client"
)

// qemuUser finds Debian's qemu-user for arm64. Where it is missing the
// test is skipped loudly, except in CI, which installs qemu-user-static.
func qemuUser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"qemu-aarch64-static", "qemu-aarch64"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but qemu-aarch64-static is not installed (.ci/run installs qemu-user-static)")
	}
	t.Skip("SKIPPED: qemu-aarch64-static not installed; the arm64 build is not run (CI runs it)")
	return ""
}

// The linux/arm64 release binary (a Raspberry Pi, an ARM edge box) runs:
// under qemu-user it starts, answers /healthz and /readyz, acknowledges a
// message after its durable commit (bbolt's mmap and fsync on arm64), and
// stops cleanly on SIGTERM.
func TestArm64BinaryUnderQemu(t *testing.T) {
	qemu := qemuUser(t)
	bin := filepath.Join(t.TempDir(), "kefu-linux-arm64")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=test-build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cross-build for linux/arm64: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	machine := f.Machine
	f.Close()
	if machine != elf.EM_AARCH64 {
		t.Fatalf("built for %v, want EM_AARCH64", machine)
	}
	if out, err := exec.Command(qemu, bin, "version").Output(); err != nil || string(out) != "kefu test-build\n" {
		t.Fatalf("kefu version under qemu: %q %v", out, err)
	}

	addr := freePort(t)
	logs := &syncBuf{}
	cmd := exec.Command(qemu, bin, "serve", "--addr", addr, "--data", t.TempDir(), "--log-level", "warn", "--admin-password", "qemu-admin-password")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	// Emulation is slow, and the box may be busy: a generous deadline.
	deadline := time.Now().Add(3 * time.Minute)
	for _, path := range []string{"/healthz", "/readyz"} {
		for {
			resp, err := http.Get("http://" + addr + path)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-done:
				t.Fatalf("kefu under qemu exited: %v\n%s", waitErr, logs.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never answered 200 under qemu: %v\n%s", path, err, logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{URL: "ws://" + addr + "/v1/ws"})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := c.Send(ctx, "hello from arm64")
	c.Close()
	if err != nil || ack.Seq == 0 {
		t.Fatalf("send under qemu: %+v %v", ack, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		if waitErr != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", waitErr, logs.String())
		}
	case <-ctx.Done():
		t.Fatalf("no exit after SIGTERM\n%s", logs.String())
	}
}

// syncBuf is a buffer a process writes while the test reads it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
