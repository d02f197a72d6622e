package boltdb

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// tinyDisk mounts a small tmpfs for the test, or skips loudly where the
// machine does not allow mounts (not root).
func tinyDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: the full-disk test needs to mount a tmpfs (run as root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fillDisk writes zeros into dir until the file system is full.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling: %v", err)
			}
			return path
		}
	}
}

// A failed commit makes the store unready until a probe commits again:
// a full disk is unready, and ready again once there is room.
func TestReadyFollowsTheDisk(t *testing.T) {
	disk := tinyDisk(t, "8m")
	s, err := Open(filepath.Join(disk, "data"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	_, conv := newVisitor(t, s)
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("a fresh store is not ready: %v", err)
	}
	filler := fillDisk(t, disk)
	text := strings.Repeat("x", 3000)
	failed := false
	for i := 0; i < 5000 && !failed; i++ {
		_, err := s.Append(ctx, conv.ID, store.NewMessage{From: protocol.FromVisitor, Text: text})
		failed = err != nil
	}
	if !failed {
		t.Fatal("the disk never filled up")
	}
	if err := s.Ready(ctx); !errors.Is(err, ErrCannotCommit) {
		t.Fatalf("Ready on a full disk: %v, want ErrCannotCommit", err)
	}
	os.Remove(filler)
	deadline := time.Now().Add(30 * time.Second)
	for s.Ready(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("still unready with room on the disk: %v", s.Ready(ctx))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := s.Append(ctx, conv.ID, store.NewMessage{From: protocol.FromVisitor, Text: "room again"}); err != nil {
		t.Errorf("append once ready: %v", err)
	}
}
