package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream/natstest"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
)

func runKefu(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, func(string) string { return "" }, &out, &errb)
	return code, out.String(), errb.String()
}

func TestMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	src, err := boltdb.Open(dir, boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, c, err := src.CreateVisitor(context.Background(), storetest.TokenHash("tok"), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"hello", "anyone?"} {
		if _, err := src.Append(context.Background(), c.ID, store.NewMessage{From: "visitor", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	// A running relay holds the file: migrate says to stop it.
	if code, _, errOut := runKefu("migrate", "--from", dir, "--nats-url", "nats://127.0.0.1:1"); code != 1 || !strings.Contains(errOut, "stop it first") {
		t.Errorf("migrate of a directory in use: exit %d, %q", code, errOut)
	}
	src.Close()

	nats := natstest.Run(t, natstest.Options{})
	for range 2 { // the second run finds everything there
		code, out, errOut := runKefu("migrate", "--from", dir, "--nats-url", nats.URL(0))
		if code != 0 || !strings.Contains(out, "1 visitors, 1 conversations, 2 messages") {
			t.Fatalf("migrate: exit %d, out %q, err %q", code, out, errOut)
		}
	}
	dst, err := jetstream.Open(context.Background(), nats.Connect(0), jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := dst.Messages(c.ID, 0, 0)
	if err != nil || len(msgs) != 2 || msgs[1].Text != "anyone?" {
		t.Errorf("migrated messages = %+v, %v", msgs, err)
	}
}

func TestMigrateUsageAndWrongKinds(t *testing.T) {
	single := t.TempDir()
	if st, err := boltdb.Open(single, boltdb.Options{}); err != nil {
		t.Fatal(err)
	} else {
		st.Close()
	}
	cluster := t.TempDir()
	if err := os.Mkdir(filepath.Join(cluster, "nats"), 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no flags", []string{"migrate"}, 2, "--from and --nats-url are required"},
		{"from a cluster node's directory", []string{"migrate", "--from", cluster, "--nats-url", "nats://127.0.0.1:1"}, 2, "cluster node's JetStream data"},
		{"no store there", []string{"migrate", "--from", t.TempDir(), "--nats-url", "nats://127.0.0.1:1"}, 2, "no single-node store in"},
		{"unreachable cluster", []string{"migrate", "--from", single, "--nats-url", "nats://127.0.0.1:1"}, 1, "connect to nats://127.0.0.1:1"},
		{"a single node on a cluster node's directory", []string{"--addr", "127.0.0.1:0", "--data", cluster}, 1, "start kefu with the cluster flags"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runKefu(tc.args...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d with %q", code, errOut, tc.wantCode, tc.wantErr)
			}
		})
	}
}
