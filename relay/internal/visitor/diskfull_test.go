package visitor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/kefuhq/kefu/relay/protocol"
)

// mountTiny mounts a small tmpfs for the test, or skips loudly where the
// machine does not allow mounts (not root, or no CAP_SYS_ADMIN).
func mountTiny(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: full-disk test needs to mount a tmpfs (run as root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes zeros into dir until the file system is full.
func fill(t *testing.T, dir string) string {
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

// A full disk refuses new messages with a clear, retryable error and loses
// nothing already acknowledged; once space is back the same message ids go
// through, stored once.
func TestDiskFull(t *testing.T) {
	dir := mountTiny(t, "8m")
	rl := newRelayIn(t, filepath.Join(dir, "data"), defaultOptions())
	r := rl.raw(nil)
	w := r.hello()
	conv := w["conversation_id"].(string)
	for i := range 5 {
		r.send(fmt.Sprintf(`{"type":"message","id":"ok%d","text":"before the disk filled"}`, i))
		r.next("ack")
	}
	filler := fill(t, dir)

	// Write until the database must grow into space that is not there.
	refused := ""
	for i := 0; i < 5000 && refused == ""; i++ {
		r.send(fmt.Sprintf(`{"type":"message","id":"full%d","text":"%0900d"}`, i, i))
		for {
			f := r.nextAny()
			if f["type"] == "ack" {
				break
			}
			if f["type"] == "error" {
				if f["code"] != string(protocol.CodeStorage) || f["id"] != fmt.Sprint("full", i) {
					t.Fatalf("error frame %v", f)
				}
				refused = fmt.Sprint("full", i)
				break
			}
		}
	}
	if refused == "" {
		t.Fatal("the disk never filled up")
	}
	t.Logf("refused %s with %s", refused, protocol.CodeStorage)

	os.Remove(filler)
	r.send(fmt.Sprintf(`{"type":"message","id":%q,"text":"retry"}`, refused))
	ack := r.next("ack")
	if ack["duplicate"] == true {
		t.Errorf("refused message was stored after all: %v", ack)
	}
	msgs, err := rl.store.Messages(conv, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for i, m := range msgs {
		if m.Seq != uint64(i+1) {
			t.Fatalf("seq gap at %d: %d", i, m.Seq)
		}
		count[m.ClientID]++
	}
	for i := range 5 {
		if count[fmt.Sprint("ok", i)] != 1 {
			t.Errorf("ok%d stored %d times", i, count[fmt.Sprint("ok", i)])
		}
	}
	if count[refused] != 1 {
		t.Errorf("%s stored %d times after the retry", refused, count[refused])
	}
}
