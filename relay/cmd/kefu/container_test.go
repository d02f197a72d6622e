package main

import (
	"context"
	"debug/elf"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
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
	podman := strings.Contains(engine[0], "podman")
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
	// Staged as make docker stages it: one binary per platform.
	os.WriteFile(filepath.Join(ctxDir, "kefu-linux-"+runtime.GOARCH), bin, 0o755)
	os.Mkdir(filepath.Join(ctxDir, "data"), 0o755)

	tag := fmt.Sprintf("localhost/kefu-test:%d", time.Now().UnixNano())
	name := strings.ReplaceAll(strings.TrimPrefix(tag, "localhost/"), ":", "-")
	cmd := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, engine[0], append(engine[1:], args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	build := []string{"build", "--build-arg", "VERSION=test-build"}
	if podman {
		// As make docker does: the OCI format drops HEALTHCHECK; no image
		// per instruction left behind.
		build = append(build, "--format", "docker", "--layers=false")
	}
	if out, err := cmd(append(build, "-f", filepath.Join(ctxDir, "Containerfile"), "-t", tag, ctxDir)...); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	t.Cleanup(func() { cmd("rmi", "-f", tag) })
	health := "{{json .Config.Healthcheck}}"
	if podman {
		health = "{{json .HealthCheck}}"
	}
	if out, err := cmd("image", "inspect", "--format", health, tag); err != nil || !strings.Contains(out, `"/kefu","healthcheck"`) {
		t.Errorf("the image has no health check: %s %v", out, err)
	}
	if out, err := cmd("image", "inspect", "--format", `{{index .Labels "org.opencontainers.image.version"}} {{index .Labels "org.opencontainers.image.source"}}`, tag); err != nil || !strings.HasPrefix(out, "test-build https://") {
		t.Errorf("OCI labels: %q %v", out, err)
	}

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
	// kefu backup in the running container reaches the relay through its
	// control socket in /data, and streams a sound database.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	backup, err := exec.CommandContext(ctx, engine[0], append(engine[1:], "exec", name, "/kefu", "backup", "-")...).Output()
	if err != nil {
		t.Fatalf("kefu backup - in the container: %v", err)
	}
	file := filepath.Join(t.TempDir(), "kefu.db")
	os.WriteFile(file, backup, 0o600)
	if rep, err := boltdb.CheckFile(ctx, file, time.Second); err != nil || !rep.OK() || rep.Records["accounts"] != 1 {
		t.Errorf("backup from the container: %v %+v", err, rep)
	}
}

// make docker-multiarch builds one podman manifest for linux/amd64 and
// linux/arm64, each image with the binary of its own architecture.
func TestContainerMultiArch(t *testing.T) {
	engine := containerEngine(t)
	if !strings.Contains(engine[0], "podman") {
		t.Skip("SKIPPED: the multi-arch image is built with podman manifests; this engine is docker")
	}
	version := fmt.Sprintf("test-multiarch-%d", time.Now().UnixNano())
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, engine[0], append(engine[1:], args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	ref := "localhost/kefu:" + version
	// The list first, then its images, which carry the version as a label.
	t.Cleanup(func() {
		if out, err := run("manifest", "rm", ref); err != nil {
			t.Logf("manifest rm: %v %s", err, out)
		}
		ids, _ := run("images", "-q", "--filter", "label=org.opencontainers.image.version="+version)
		for _, id := range strings.Fields(ids) {
			if out, err := run("rmi", id); err != nil {
				t.Logf("rmi %s: %v %s", id, err, out)
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	mk := exec.CommandContext(ctx, "make", "-C", "../../..", "docker-multiarch", "VERSION="+version)
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make docker-multiarch: %v\n%s", err, out)
	}
	out, err := run("manifest", "inspect", ref)
	if err != nil {
		t.Fatalf("manifest inspect: %v\n%s", err, out)
	}
	for _, arch := range []string{`"amd64"`, `"arm64"`} {
		if !strings.Contains(out, `"architecture": `+arch) {
			t.Errorf("manifest lacks %s:\n%s", arch, out)
		}
	}
	// Each image holds the binary of its architecture (created, never run;
	// by image id, as podman 4 resolves a list to the host's platform).
	ids, _ := run("images", "-q", "--filter", "label=org.opencontainers.image.version="+version)
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	seen := 0
	for _, id := range strings.Fields(ids) {
		arch, err := run("image", "inspect", "--format", "{{.Architecture}}", id)
		if err != nil {
			t.Fatal(err)
		}
		name := version + "-" + arch
		if out, err := run("create", "--name", name, id); err != nil {
			t.Fatalf("create %s: %v\n%s", arch, err, out)
		}
		dst := filepath.Join(t.TempDir(), "kefu")
		out, err := run("cp", name+":/kefu", dst)
		run("rm", "-f", name)
		if err != nil {
			t.Fatalf("cp: %v\n%s", err, out)
		}
		f, err := elf.Open(dst)
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != want[arch] {
			t.Errorf("the %s image holds a %v binary", arch, f.Machine)
		}
		f.Close()
		seen++
	}
	if seen != 2 {
		t.Errorf("%d images carry the version label, want 2", seen)
	}
}
