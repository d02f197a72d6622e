package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/client"
)

// status GETs url with optional headers and returns the status and body.
func status(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// /metrics is not public on the main port: it is served on its own
// address, or on the main one behind a bearer token.
func TestMetricsNotPublic(t *testing.T) {
	const token = "metrics-token-0123456789"
	tests := []struct {
		name   string
		flags  []string
		main   int // without a token
		mainOK int // with the token
		extra  int // on --metrics-addr, without a token
	}{
		{name: "default", main: 404, mainOK: 404},
		{name: "own address", flags: []string{"--metrics-addr"}, main: 404, mainOK: 404, extra: 200},
		{name: "token", flags: []string{"--metrics-token", token}, main: 401, mainOK: 200},
		{name: "both", flags: []string{"--metrics-token", token, "--metrics-addr"}, main: 401, mainOK: 200, extra: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, maddr := freePort(t), ""
			flags := tt.flags
			if len(flags) > 0 && flags[len(flags)-1] == "--metrics-addr" {
				maddr = freePort(t)
				flags = append(flags[:len(flags):len(flags)], maddr)
			}
			startKefu(t, addr, t.TempDir(), flags...)
			if got, _ := status(t, "http://"+addr+"/metrics"); got != tt.main {
				t.Errorf("main port without token: %d, want %d", got, tt.main)
			}
			got, body := status(t, "http://"+addr+"/metrics", "Authorization", "Bearer "+token)
			if got != tt.mainOK || got == 200 && !strings.Contains(body, "kefu_store_commit_seconds") {
				t.Errorf("main port with token: %d, want %d", got, tt.mainOK)
			}
			if maddr != "" {
				if got, _ := status(t, "http://"+maddr+"/metrics"); got != tt.extra {
					t.Errorf("metrics address: %d, want %d", got, tt.extra)
				}
			}
		})
	}
}

// The generated first password goes to the terminal once, with the URL
// to open, and never into the structured log.
func TestFirstPasswordOnTerminalOnly(t *testing.T) {
	addr := freePort(t)
	p := startKefu(t, addr, t.TempDir(), "--log-format", "json", "--log-level", "info")
	var pw string
	deadline := time.Now().Add(10 * time.Second)
	for pw == "" && time.Now().Before(deadline) {
		for _, l := range strings.Split(p.log(), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "│  password    "); ok {
				pw = v
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if pw == "" {
		t.Fatalf("no password on the terminal:\n%s", p.log())
	}
	if !strings.Contains(p.log(), "Sign in at  http://"+addr+"/admin/") {
		t.Errorf("no URL to open next to it:\n%s", p.log())
	}
	for _, l := range strings.Split(p.log(), "\n") {
		if strings.HasPrefix(l, "{") && strings.Contains(l, pw) {
			t.Errorf("the password is in a log line: %s", l)
		}
	}
	if !strings.Contains(p.log(), `"admin":"http://`+addr+`/admin/"`) || !strings.Contains(p.log(), `"demo":"http://`+addr+`/demo"`) {
		t.Errorf("the serving line lacks the URLs:\n%s", p.log())
	}
	if got := login(t, addr, "admin", pw); got != 200 {
		t.Errorf("sign in with the printed password: %d", got)
	}
}

// /readyz turns 503 when the disk is full and commits fail, and 200 again
// once there is room, without a restart.
func TestReadyzFollowsFullDisk(t *testing.T) {
	disk := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: the full-disk test needs to mount a tmpfs (run as root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })
	addr := freePort(t)
	startKefu(t, addr, filepath.Join(disk, "data"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{URL: "ws://" + addr + "/v1/ws"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, _ := status(t, "http://"+addr+"/readyz"); got != 200 {
		t.Fatalf("readyz before: %d", got)
	}

	filler := filepath.Join(disk, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for buf := make([]byte, 64<<10); ; {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()
	text := strings.Repeat("x", 4000)
	refused := false
	for i := 0; i < 3000 && !refused; i++ {
		sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.SendID(sctx, fmt.Sprint("fill-", i), text)
		scancel()
		refused = err != nil
	}
	if !refused {
		t.Fatal("the disk never filled up")
	}
	got, body := status(t, "http://"+addr+"/readyz")
	if got != 503 || !strings.Contains(body, "cannot commit") {
		t.Errorf("readyz on a full disk: %d %q, want 503", got, body)
	}
	if got, _ := status(t, "http://"+addr+"/healthz"); got != 200 {
		t.Errorf("healthz on a full disk: %d, want 200 (the process is alive)", got)
	}

	os.Remove(filler)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got, _ := status(t, "http://"+addr+"/readyz"); got == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("readyz still not 200 with room on the disk")
		}
		time.Sleep(100 * time.Millisecond)
	}
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if _, err := c.Send(sctx, "room again"); err != nil {
		t.Errorf("send once ready: %v", err)
	}
}
