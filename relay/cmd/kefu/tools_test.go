package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

// kefu runs the binary to the end and returns its output and exit code.
func kefu(t *testing.T, stdin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kefuBin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("kefu %v: %v", args, err)
	}
	if strings.Contains(e.String(), "goroutine ") || strings.Contains(e.String(), "panic:") {
		t.Errorf("kefu %v crashed:\n%s", args, e.String())
	}
	return o.String(), e.String(), code
}

// chatted starts a relay on data, has n visitors send a few messages each,
// stops it, and returns their conversation ids.
func chatted(t *testing.T, data string, n int) []string {
	t.Helper()
	addr := freePort(t)
	p := startKefu(t, addr, data)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var convs []string
	for v := range n {
		c, err := client.Dial(ctx, client.Options{URL: "ws://" + addr + "/v1/ws"})
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 3; i++ {
			if _, err := c.SendID(ctx, fmt.Sprintf("v%d-%d", v, i), fmt.Sprintf("flip-me-%d-%d", v, i)); err != nil {
				t.Fatal(err)
			}
		}
		_, conv, _ := c.State()
		convs = append(convs, conv)
		c.Close()
	}
	if code := p.term(ctx); code != 0 {
		t.Fatalf("relay exit %d", code)
	}
	return convs
}

// kefu check finds a flipped byte in a message, names it by bucket and
// key, exits 1; kefu repair sets it aside and the relay starts again.
func TestCheckFlippedByteThenRepair(t *testing.T) {
	data := t.TempDir()
	convs := chatted(t, data, 2)
	if out, errs, code := kefu(t, "", nil, "check", "--data", data); code != 0 {
		t.Fatalf("check of a sound database: exit %d\n%s%s", code, out, errs)
	}
	path := filepath.Join(data, boltdb.FileName)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Every copy (bbolt keeps old ones in freed pages) of the second
	// visitor's second message: a flipped bit in its JSON.
	n := 0
	for i := 0; ; {
		j := bytes.Index(raw[i:], []byte(`"text":"flip-me-1-2"`))
		if j < 0 {
			break
		}
		raw[i+j] ^= 0x01 // the key's opening quote becomes '#': not JSON any more
		i += j + 1
		n++
	}
	if n == 0 {
		t.Fatal("message not found in the file")
	}
	os.WriteFile(path, raw, 0o600)

	// Its seq is 2 or 3: the relay's own line after the first message (the
	// team is away) may be stored before or after it.
	out, _, code := kefu(t, "", nil, "check", "--data", data)
	named := regexp.MustCompile(`messages ` + regexp.QuoteMeta(convs[1]) + `/[23]: does not decode`)
	if code != 1 || !named.MatchString(out) {
		t.Fatalf("check after a flipped byte: exit %d, want 1 naming messages %s/2 or /3\n%s", code, convs[1], out)
	}
	out, _, code = kefu(t, "", nil, "repair", "--data", data)
	if code != 0 || !strings.Contains(out, "Set aside in the quarantine bucket (2)") {
		t.Fatalf("repair: exit %d\n%s", code, out)
	}
	if out, _, code := kefu(t, "", nil, "check", "--data", data); code != 0 {
		t.Fatalf("check after repair: exit %d\n%s", code, out)
	}
	startKefu(t, freePort(t), data)
}

// A file cut short (an interrupted copy) gives a clear error: the relay
// refuses to start, saying what to do, and does not crash; check reports
// it; repair salvages it.
func TestFileCutShort(t *testing.T) {
	data := t.TempDir()
	chatted(t, data, 3)
	path := filepath.Join(data, boltdb.FileName)
	raw, _ := os.ReadFile(path)
	os.WriteFile(path, raw[:len(raw)/2], 0o600)

	_, errs, code := kefu(t, "", nil, "serve", "--addr", freePort(t), "--data", data)
	if code != 1 || !strings.Contains(errs, "cut short") || !strings.Contains(errs, "kefu repair --data "+data) {
		t.Errorf("serve on a file cut short: exit %d\n%s", code, errs)
	}
	// Where the cut falls decides what is left: most often the root of the
	// buckets survives and the check reads what it can; when the root was
	// cut off, nothing can be read, and both commands say so.
	out, errs, code := kefu(t, "", nil, "check", "--data", data)
	if code != 1 || !strings.Contains(out+errs, "cut short") {
		t.Errorf("check on a file cut short: exit %d\n%s%s", code, out, errs)
	}
	rootLost := strings.Contains(errs, "its root page is gone")
	out, errs, code = kefu(t, "", nil, "repair", "--data", data)
	if rootLost {
		if code != 1 || !strings.Contains(errs, "restore a backup") {
			t.Errorf("repair with the root cut off: exit %d, want 1 saying to restore a backup\n%s%s", code, out, errs)
		}
		return
	}
	if code != 0 {
		t.Fatalf("repair: exit %d\n%s%s", code, out, errs)
	}
	startKefu(t, freePort(t), data)
}

// kefu backup of a relay under write load (through its control socket)
// is a consistent copy that reopens clean and holds every message acked
// before the backup began.
func TestBackupUnderLoad(t *testing.T) {
	data := t.TempDir()
	addr := freePort(t)
	p := startKefu(t, addr, data)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	senders := make([]*sender, 6)
	for i := range senders {
		c, err := client.Dial(ctx, client.Options{URL: "ws://" + addr + "/v1/ws"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, conv, _ := c.State()
		senders[i] = &sender{c: c, conv: conv, acked: map[string]uint64{}}
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, s := range senders {
		wg.Add(1)
		go func() { defer wg.Done(); s.loop(loadCtx, t, fmt.Sprint("b", i)) }()
	}
	ackedNow := func() map[string]map[string]uint64 {
		out := map[string]map[string]uint64{}
		for _, s := range senders {
			s.mu.Lock()
			m := map[string]uint64{}
			for id, seq := range s.acked {
				m[id] = seq
			}
			s.mu.Unlock()
			out[s.conv] = m
		}
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	for total := 0; total < 300; {
		total = 0
		for _, m := range ackedNow() {
			total += len(m)
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d messages acked", total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := ackedNow()
	file := filepath.Join(t.TempDir(), "backup.db")
	_, errs, code := kefu(t, "", nil, "backup", "--data", data, file)
	if code != 0 || !strings.Contains(errs, "from the running relay") || !strings.Contains(errs, "no problems") {
		t.Fatalf("backup under load: exit %d\n%s", code, errs)
	}
	after := ackedNow()
	stopLoad()
	wg.Wait()
	if code := p.term(ctx); code != 0 {
		t.Errorf("relay exit %d", code)
	}

	restored := t.TempDir()
	os.Rename(file, filepath.Join(restored, boltdb.FileName))
	st, err := boltdb.Open(restored, boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Fatalf("backup: %v", err)
	}
	n, grew := 0, 0
	for conv, ids := range before {
		msgs, err := st.Messages(conv, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string]uint64{}
		for i, m := range msgs {
			if m.Seq != uint64(i+1) {
				t.Fatalf("conversation %s: seq %d at position %d", conv, m.Seq, i)
			}
			stored[m.ClientID] = m.Seq
		}
		for id, seq := range ids {
			if stored[id] != seq {
				t.Errorf("%s (seq %d) acked before the backup is missing from it", id, seq)
			}
			n++
		}
		grew += len(after[conv]) - len(ids)
	}
	if grew == 0 {
		t.Error("no message was acked while the backup ran: the test did not load the relay")
	}
	t.Logf("backup holds all %d messages acked before it; %d more were acked while it ran", n, grew)
}

// reset-password refuses while a relay holds the data directory, works
// offline, and the new password signs in; the old one does not.
func TestResetPassword(t *testing.T) {
	data := t.TempDir()
	addr := freePort(t)
	p := startKefu(t, addr, data, "--admin-password", "first-password-1")
	_, errs, code := kefu(t, "", nil, "admin", "reset-password", "--data", data, "admin")
	if code != 1 || !strings.Contains(errs, "is in use by a running relay") {
		t.Errorf("reset-password while running: exit %d\n%s", code, errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p.term(ctx)

	out, errs, code := kefu(t, "", nil, "admin", "reset-password", "--data", data, "nobody")
	if code != 1 || !strings.Contains(errs, `no account "nobody"`) || !strings.Contains(errs, "accounts: admin") {
		t.Errorf("unknown user: exit %d\n%s%s", code, out, errs)
	}
	out, _, code = kefu(t, "new-password-from-stdin\n", nil, "admin", "reset-password", "--data", data, "--password-stdin", "ADMIN")
	if code != 0 || strings.Contains(out, "new-password-from-stdin") {
		t.Fatalf("reset from stdin: exit %d\n%s", code, out)
	}
	out, _, code = kefu(t, "", nil, "admin", "reset-password", "--data", data, "admin")
	pw := ""
	for _, l := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(l, "New password: "); ok {
			pw = p
		}
	}
	if code != 0 || len(pw) < 16 {
		t.Fatalf("reset with a generated password: exit %d\n%s", code, out)
	}
	_, _, code = kefu(t, "", []string{"KEFU_NEW_PASSWORD=short"}, "admin", "reset-password", "--data", data, "admin")
	if code != 2 {
		t.Errorf("a too short password: exit %d, want 2", code)
	}

	// KEFU_ADMIN_PASSWORD no longer applies: the relay says so.
	p = startKefu(t, addr, data, "--admin-password", "first-password-1", "--log-level", "info")
	if !strings.Contains(p.log(), "reset-password") {
		t.Errorf("no word about the ignored KEFU_ADMIN_PASSWORD:\n%s", p.log())
	}
	if got := login(t, addr, "admin", "first-password-1"); got != 401 {
		t.Errorf("old password: %d, want 401", got)
	}
	if got := login(t, addr, "admin", pw); got != 200 {
		t.Errorf("new password: %d, want 200", got)
	}
}

// login signs in through the API and returns the status.
func login(t *testing.T, addr, user, pw string) int {
	t.Helper()
	body := fmt.Sprintf(`{"username":%q,"password":%q}`, user, pw)
	resp, err := http.Post("http://"+addr+"/v1/auth/login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A relay killed with SIGKILL leaves its control socket behind: kefu
// backup then reads the files itself, and the next relay replaces the
// socket.
func TestBackupAfterKill(t *testing.T) {
	data := t.TempDir()
	addr := freePort(t)
	p := startKefu(t, addr, data)
	p.kill()
	if _, err := os.Stat(filepath.Join(data, "kefu.sock")); err != nil {
		t.Fatalf("no stale socket to test with: %v", err)
	}
	file := filepath.Join(t.TempDir(), "b.db")
	_, errs, code := kefu(t, "", nil, "backup", "--data", data, file)
	if code != 0 || !strings.Contains(errs, "no relay running") {
		t.Fatalf("backup after kill -9: exit %d\n%s", code, errs)
	}
	startKefu(t, addr, data)
	_, errs, code = kefu(t, "", nil, "backup", "--data", data, file)
	if code != 0 || !strings.Contains(errs, "from the running relay") {
		t.Errorf("backup from the restarted relay: exit %d\n%s", code, errs)
	}
}

// A damaged conversation record stops the start (the relay reads them all
// then), naming check and repair; serve --repair sets it aside, rebuilds
// it from its visitor and messages, logs it with its key, and serves.
func TestServeRepair(t *testing.T) {
	data := t.TempDir()
	convs := chatted(t, data, 2)
	path := filepath.Join(data, boltdb.FileName)
	raw, _ := os.ReadFile(path)
	n := 0
	for i := 0; ; {
		j := bytes.Index(raw[i:], []byte(`{"id":"`+convs[1]+`"`))
		if j < 0 {
			break
		}
		raw[i+j] = '[' // not a JSON object any more
		i += j + 1
		n++
	}
	if n == 0 {
		t.Fatal("conversation record not found in the file")
	}
	os.WriteFile(path, raw, 0o600)
	if _, errs, code := kefu(t, "", nil, "serve", "--addr", freePort(t), "--data", data); code != 1 || !strings.Contains(errs, "kefu repair --data") {
		t.Fatalf("serve on a damaged record: exit %d, want 1 naming kefu repair\n%s", code, errs)
	}
	p := startKefu(t, freePort(t), data, "--repair=true")
	for _, want := range []string{"repaired the database", "key=" + convs[1]} {
		if !strings.Contains(p.log(), want) {
			t.Errorf("log lacks %q:\n%s", want, p.log())
		}
	}
}

// On a cluster node's data directory the bbolt tools say what it is
// instead of creating or reading a bbolt file there.
func TestToolsOnClusterData(t *testing.T) {
	data := t.TempDir()
	os.Mkdir(filepath.Join(data, "nats"), 0o700)
	for _, args := range [][]string{{"check"}, {"repair"}, {"backup", filepath.Join(t.TempDir(), "b.db")}} {
		_, errs, code := kefu(t, "", nil, append(args, "--data", data)...)
		if code != 1 || !strings.Contains(errs, "cluster node's JetStream data") {
			t.Errorf("kefu %s on cluster data: exit %d\n%s", args[0], code, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(data, boltdb.FileName)); err == nil {
		t.Error("a bbolt file was created in a cluster node's directory")
	}
}
