package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// containerEngine finds podman or a docker whose engine answers. Where
// neither exists the test is skipped loudly, except in CI, which installs
// podman and must run it.
func containerEngine(t *testing.T) []string {
	t.Helper()
	if p, err := exec.LookPath("podman"); err == nil {
		if _, err := exec.LookPath("runc"); err == nil {
			return []string{p, "--runtime", "runc"}
		}
		return []string{p}
	}
	if p, err := exec.LookPath("docker"); err == nil && exec.Command(p, "info").Run() == nil {
		return []string{p}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but neither podman nor a working docker is installed (.ci/run installs podman)")
	}
	t.Skip("SKIPPED: no podman or working docker here; the container image is not tested (CI runs it)")
	return nil
}

// TestContainerImage builds the FROM scratch image from the Containerfile
// around the static binary, runs it, and checks /healthz and its user.
func TestContainerImage(t *testing.T) {
	engine := containerEngine(t)
	ctxDir := t.TempDir()
	data, err := os.ReadFile("../../../Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(kefuBin)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ctxDir, "Containerfile"), data, 0o644)
	os.WriteFile(filepath.Join(ctxDir, "kefu"), bin, 0o755)
	os.Mkdir(filepath.Join(ctxDir, "data"), 0o755)

	tag := fmt.Sprintf("localhost/kefu-test:%d", time.Now().UnixNano())
	name := strings.ReplaceAll(strings.TrimPrefix(tag, "localhost/"), ":", "-")
	cmd := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, engine[0], append(engine[1:], args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := cmd("build", "-f", filepath.Join(ctxDir, "Containerfile"), "-t", tag, ctxDir); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	t.Cleanup(func() { cmd("rmi", "-f", tag) })

	addr := freePort(t)
	// Explicit limits: some sandboxes refuse to copy the host's (--ulimit host).
	out, err := cmd("run", "-d", "--name", name, "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=8192:8192", "-p", addr+":8020", tag)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	t.Cleanup(func() { cmd("rm", "-f", name) })

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			logs, _ := cmd("logs", name)
			t.Fatalf("container never healthy: %v\n%s", err, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	user, err := cmd("inspect", "--format", "{{.Config.User}}", tag)
	if err != nil || user != "65532:65532" {
		t.Errorf("image user %q (%v), want 65532:65532", user, err)
	}
	// The relay wrote its database into the /data volume as that user.
	if out, err := cmd("exec", name, "/kefu", "healthcheck"); err != nil {
		t.Errorf("healthcheck inside the container: %v %s", err, out)
	}
}
