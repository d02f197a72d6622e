package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRun starts the command on a free port, streams one answer through it
// and stops it with its context, as the browser tests do with the process.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	outR, outW := io.Pipe()
	var stderr strings.Builder
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"--addr", "127.0.0.1:0", "--text", "pong", "--delay", "1ms"}, outW, &stderr)
		outW.Close()
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatalf("reading banner: %v (stderr %q)", err, stderr.String())
	}
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("banner: got %q", line)
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()

	body := `{"model":"m","stream":true,"messages":[{"role":"user","content":"ping"}]}`
	resp, err := http.Post(base+"/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"content":"pong"`) || !strings.HasSuffix(string(b), "data: [DONE]\n\n") {
		t.Errorf("stream: got %q", b)
	}

	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("exit code: got %d, want 0 (stderr %q)", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{name: "unknown scenario", args: []string{"--scenario", "nope"}, want: 2},
		{name: "unknown flag", args: []string{"--nope"}, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut strings.Builder
			if got := run(t.Context(), tt.args, &out, &errOut); got != tt.want {
				t.Errorf("exit: got %d, want %d (stderr %q)", got, tt.want, errOut.String())
			}
		})
	}
}
