package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClusterOptions(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "kefu.creds")
	if err := os.WriteFile(creds, []byte("not checked here"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "no option: one node on bbolt", check: func(t *testing.T, c Config) {
			if c.Mode() != ModeSingle {
				t.Errorf("mode %q, want %q", c.Mode(), ModeSingle)
			}
			if c.Cluster.NodeName == "" || c.Cluster.Prefix != "kefu" || c.Cluster.Listen != ":6222" {
				t.Errorf("defaults: %+v", c.Cluster)
			}
		}},
		{name: "embedded", args: []string{"--cluster-name", "shop", "--node-name", "n1", "--cluster-listen", "127.0.0.1:7001",
			"--cluster-peers", "127.0.0.1:7001, 127.0.0.1:7002,127.0.0.1:7003", "--sync-always=true"},
			check: func(t *testing.T, c Config) {
				if c.Mode() != ModeEmbedded || c.Cluster.NodeName != "n1" || len(c.Cluster.Peers) != 3 || !c.Cluster.SyncAlways {
					t.Errorf("got mode %q %+v", c.Mode(), c.Cluster)
				}
			}},
		{name: "external from env", env: map[string]string{"KEFU_NATS_URL": "nats://a:4222,tls://b:4222", "KEFU_NATS_CREDS": creds},
			check: func(t *testing.T, c Config) {
				if c.Mode() != ModeExternal || c.Cluster.Creds != creds {
					t.Errorf("got mode %q %+v", c.Mode(), c.Cluster)
				}
			}},
		{name: "both modes", args: []string{"--nats-url", "nats://a:4222", "--cluster-name", "x", "--cluster-peers", "a:1"}, wantErr: "choose one: --nats-url"},
		{name: "cluster without peers", args: []string{"--cluster-name", "x"}, wantErr: "--cluster-name needs --cluster-peers"},
		{name: "peers without cluster", args: []string{"--cluster-peers", "a:1"}, wantErr: "--cluster-peers needs --cluster-name"},
		{name: "bad peer", args: []string{"--cluster-name", "x", "--cluster-peers", "a:1,b"}, wantErr: `peer "b": must be host:port`},
		{name: "bad node name", args: []string{"--node-name", "has space"}, wantErr: "use letters, digits"},
		{name: "bad url", args: []string{"--nats-url", "http://a:4222"}, wantErr: "must be nats://"},
		{name: "missing creds file", args: []string{"--nats-url", "nats://a:4222", "--nats-creds", "/nonexistent/kefu.creds"}, wantErr: "cannot read the file"},
		{name: "creds without url", args: []string{"--nats-creds", creds}, wantErr: "are for --nats-url"},
		{name: "cert without key", args: []string{"--nats-url", "nats://a:4222", "--nats-cert", creds}, wantErr: "--nats-cert and --nats-key go together"},
		{name: "sync-always external", args: []string{"--nats-url", "nats://a:4222", "--sync-always=true"}, wantErr: "sync_interval: always"},
		{name: "replicas", args: []string{"--replicas", "2"}, wantErr: "must be 0, 1, 3 or 5"},
		{name: "more replicas than peers", args: []string{"--cluster-name", "x", "--cluster-peers", "a:1,b:1", "--replicas", "3"}, wantErr: "--replicas 3 needs at least 3 nodes"},
		{name: "bad prefix", args: []string{"--nats-prefix", "Kefu.X"}, wantErr: "lower-case letters"},
		{name: "password in a bad url is hidden", args: []string{"--nats-url", "http://kefu:s3cret@a:4222"}, wantErr: "kefu:%2A%2A%2A%2A%2A%2A@a:4222"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.args, envOf(tt.env), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestNATSURLPasswordMasked(t *testing.T) {
	c, err := Parse([]string{"--nats-url", "nats://kefu:s3cret@a:4222,nats://tok3n@b:4222"}, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(c.LogAttrs()...)
	if strings.Contains(got, "s3cret") || strings.Contains(got, "tok3n") {
		t.Errorf("LogAttrs shows a NATS secret: %s", got)
	}
	if !strings.Contains(got, "@a:4222") || !strings.Contains(got, "@b:4222") {
		t.Errorf("LogAttrs should still show the servers: %s", got)
	}
}
