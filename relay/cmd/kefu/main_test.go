package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/protocol"
)

func TestRunCommands(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{name: "version", args: []string{"version"}, wantOut: "kefu dev\n"},
		{name: "help", args: []string{"help"}, wantOut: "KEFU_ADDR"},
		{name: "unknown command", args: []string{"launch"}, wantCode: 2, wantErr: `unknown command "launch"`},
		{name: "bad flag value", args: []string{"--max-message-bytes", "-5"}, wantCode: 2, wantErr: "kefu: config: invalid --max-message-bytes \"-5\": must be between 16 and 524288\n"},
		{name: "bad env value", env: map[string]string{"KEFU_PING_INTERVAL": "forever"}, wantCode: 2, wantErr: "invalid KEFU_PING_INTERVAL"},
		{name: "secret not echoed", args: []string{"--openai-base-url", "ftp://x"}, env: map[string]string{"OPENAI_API_KEY": "sk-secret-999"}, wantCode: 2, wantErr: "must be an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, &out, &errb)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.wantCode, errb.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("stdout %q, want %q", out.String(), tt.wantOut)
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr %q, want %q", errb.String(), tt.wantErr)
			}
			if tt.wantCode == 2 && strings.Count(errb.String(), "\n") != 1 {
				t.Errorf("a bad value must give one line, got %q", errb.String())
			}
			if strings.Contains(out.String()+errb.String(), "sk-secret-999") {
				t.Error("secret printed")
			}
		})
	}
}

func TestVersionStamped(t *testing.T) {
	out, err := exec.Command(kefuBin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "kefu test-build\n" {
		t.Errorf("version output %q", out)
	}
}

func TestSecondRelayOnSameDataExits(t *testing.T) {
	data := t.TempDir()
	startKefu(t, freePort(t), data)
	start := time.Now()
	cmd := exec.Command(kefuBin, "--addr", freePort(t), "--data", data)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("second relay: %v, want exit 1", err)
	}
	if !strings.Contains(errb.String(), "is in use by another kefu process") {
		t.Errorf("stderr %q lacks a clear reason", errb.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("second relay took %s to give up", d)
	}
}

func TestHealthcheckCommand(t *testing.T) {
	addr := freePort(t)
	var errb bytes.Buffer
	if code := run(context.Background(), []string{"healthcheck", "--addr", addr}, func(string) string { return "" }, &errb, &errb); code != 1 {
		t.Errorf("healthcheck with nothing listening: exit %d, want 1", code)
	}
	startKefu(t, addr, t.TempDir())
	if code := run(context.Background(), []string{"healthcheck", "--addr", addr}, func(string) string { return "" }, &errb, &errb); code != 0 {
		t.Errorf("healthcheck against a running relay: exit %d (%s)", code, errb.String())
	}
}

// SIGTERM: sockets get 1012 so clients reconnect, in-flight messages
// finish, the process exits 0, and a restart continues where it stopped.
func TestGracefulShutdownLosesNothing(t *testing.T) {
	data := t.TempDir()
	addr := freePort(t)
	p := startKefu(t, addr, data)
	url := "ws://" + addr + "/v1/ws"

	// A raw socket to observe the close code.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	watcher, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	watcher.Write(ctx, websocket.MessageText, []byte(`{"type":"hello","last_seq":0}`))
	watcher.Read(ctx)
	closeCode := make(chan websocket.StatusCode, 1)
	go func() {
		for {
			if _, _, err := watcher.Read(ctx); err != nil {
				closeCode <- websocket.CloseStatus(err)
				return
			}
		}
	}()

	var mu sync.Mutex
	acked := map[string]map[string]uint64{}
	var clients []*client.Client
	sendCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range 8 {
		c, err := client.Dial(ctx, client.Options{URL: url, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		_, conv, _ := c.State()
		mine := map[string]uint64{}
		acked[conv] = mine
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; sendCtx.Err() == nil; j++ {
				id := fmt.Sprintf("c%d-%d", i, j)
				// A short deadline: after SIGTERM there is no relay to retry against.
				a, err := c.SendID(sendCtx, id, "x")
				if err != nil {
					return
				}
				mu.Lock()
				mine[id] = a.Seq
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if code := p.term(ctx); code != 0 {
		t.Errorf("exit code %d after SIGTERM\n%s", code, p.log())
	}
	if code := <-closeCode; code != protocol.CloseRestart {
		t.Errorf("sockets closed with %d, want %d", code, protocol.CloseRestart)
	}
	stop()
	wg.Wait()
	for _, c := range clients {
		c.Close()
	}
	st, err := boltdb.Open(data, boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for conv, ids := range acked {
		msgs, err := st.Messages(conv, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string]uint64{}
		for _, m := range msgs {
			stored[m.ClientID] = m.Seq
		}
		for id, seq := range ids {
			if stored[id] != seq {
				t.Errorf("acked %s (seq %d) missing after shutdown", id, seq)
			}
			n++
		}
	}
	st.Close()
	if n == 0 {
		t.Fatal("nothing was acked; the test exercised nothing")
	}
	// The relay starts again on the same data and carries on.
	startKefu(t, addr, data)
	c, err := client.Dial(ctx, client.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Send(ctx, "after restart"); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d acked messages survived SIGTERM", n)
}

// Profiling is off unless asked for, and then only on its own address.
func TestPprofOnlyBehindItsFlag(t *testing.T) {
	addr, paddr := freePort(t), freePort(t)
	startKefu(t, addr, t.TempDir(), "--pprof-addr", paddr)
	get := func(url string) int {
		resp, err := http.Get(url)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("http://" + paddr + "/debug/pprof/"); code != 200 {
		t.Errorf("pprof address: %d", code)
	}
	if code := get("http://" + addr + "/debug/pprof/"); code != 404 {
		t.Errorf("public port serves pprof: %d", code)
	}
	other := freePort(t)
	startKefu(t, other, t.TempDir())
	if code := get("http://" + other + "/debug/pprof/"); code != 404 {
		t.Errorf("pprof without the flag: %d", code)
	}
}
