package config

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if c.Addr != ":8020" || c.DataDir != "./data" || c.MaxMessageBytes != 4096 || c.PingInterval != 10*time.Second || c.HelloTimeout != 10*time.Second {
				t.Errorf("defaults: got %+v", c)
			}
			if c.AllowedOrigins != nil {
				t.Errorf("AllowedOrigins: got %v, want nil (any)", c.AllowedOrigins)
			}
		}},
		{name: "env fallback", env: map[string]string{"KEFU_ADDR": "127.0.0.1:9000", "KEFU_DATA": "/tmp/x"}, check: func(t *testing.T, c Config) {
			if c.Addr != "127.0.0.1:9000" || c.DataDir != "/tmp/x" {
				t.Errorf("got addr %q data %q", c.Addr, c.DataDir)
			}
		}},
		{name: "flag beats env", args: []string{"--addr", ":1234"}, env: map[string]string{"KEFU_ADDR": ":9000"}, check: func(t *testing.T, c Config) {
			if c.Addr != ":1234" {
				t.Errorf("got %q, want :1234", c.Addr)
			}
		}},
		{name: "origins list", args: []string{"--allowed-origins", "Shop.example.com, *.example.org"}, check: func(t *testing.T, c Config) {
			if got := strings.Join(c.AllowedOrigins, "|"); got != "shop.example.com|*.example.org" {
				t.Errorf("got %q", got)
			}
		}},
		{name: "frame ancestors", env: map[string]string{"KEFU_FRAME_ANCESTORS": "https://Back.example.com/, https://*.example.org:8443"}, check: func(t *testing.T, c Config) {
			if got := strings.Join(c.FrameAncestors, " "); got != "https://back.example.com https://*.example.org:8443" {
				t.Errorf("got %q", got)
			}
		}},
		{name: "standard openai env", env: map[string]string{"OPENAI_API_KEY": "sk-abc", "OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}, check: func(t *testing.T, c Config) {
			if c.OpenAIAPIKey != "sk-abc" || c.OpenAIBaseURL != "http://127.0.0.1:1/v1" {
				t.Errorf("got %q %q", c.OpenAIAPIKey, c.OpenAIBaseURL)
			}
		}},
		{name: "signed identity", args: []string{"--require-signed-identity"}, env: map[string]string{"KEFU_IDENTITY_SECRET": strings.Repeat("s", 32)}, check: func(t *testing.T, c Config) {
			if !c.RequireSignedIdentity || c.IdentitySecret != strings.Repeat("s", 32) {
				t.Errorf("require %v secret %q", c.RequireSignedIdentity, c.IdentitySecret)
			}
		}},
		{name: "signed identity required without a secret", args: []string{"--require-signed-identity"}, wantErr: "needs --identity-secret"},
		{name: "identity secret too short", args: []string{"--identity-secret", "short"}, wantErr: "at least 32 characters"},
		{name: "switch without a value", args: []string{"--behind-proxy", "--demo=false"}, check: func(t *testing.T, c Config) {
			if !c.BehindProxy || c.DemoIntents {
				t.Errorf("behind-proxy %v demo %v, want true false", c.BehindProxy, c.DemoIntents)
			}
		}},
		{name: "bad switch", args: []string{"--behind-proxy=maybe"}, wantErr: `config: invalid --behind-proxy "maybe": must be true or false`},
		{name: "bad int", args: []string{"--max-message-bytes", "lots"}, wantErr: `config: invalid --max-message-bytes "lots": must be a whole number`},
		{name: "int out of range from env", env: map[string]string{"KEFU_SEND_QUEUE": "1"}, wantErr: `config: invalid KEFU_SEND_QUEUE "1": must be between 8 and 65536`},
		{name: "bad duration", args: []string{"--write-timeout=soon"}, wantErr: "must be a duration"},
		{name: "bad addr", args: []string{"--addr", "8020"}, wantErr: "must be host:port or :port"},
		{name: "bad origin pattern", args: []string{"--allowed-origins", "[x"}, wantErr: `bad pattern "[x"`},
		{name: "frame ancestor that ends the directive", args: []string{"--frame-ancestors", "https://a.example; script-src *"}, wantErr: `is not an origin like https://backoffice.example.com`},
		{name: "frame ancestor keyword", args: []string{"--frame-ancestors", "'self'"}, wantErr: `"'self'" is not an origin`},
		{name: "frame ancestor with a path", args: []string{"--frame-ancestors", "https://a.example/admin"}, wantErr: `is not an origin`},
		{name: "frame ancestor without scheme", args: []string{"--frame-ancestors", "a.example"}, wantErr: `is not an origin`},
		{name: "frame smaller than message", args: []string{"--max-frame-bytes", "4096"}, wantErr: "must exceed --max-message-bytes"},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "flag provided but not defined: -nope"},
		{name: "stray argument", args: []string{"extra"}, wantErr: `unexpected argument "extra"`},
		{name: "secret masked in error", args: []string{"--openai-base-url", "file:///etc/passwd"}, wantErr: "must be an http(s) URL"},
		{name: "secret key not base64", env: map[string]string{"KEFU_SECRET_KEY": "not a key at all"}, wantErr: `config: invalid KEFU_SECRET_KEY "******": secret: key is not base64`},
		{name: "secret key too short", env: map[string]string{"KEFU_SECRET_KEY": "c2hvcnQ="}, wantErr: "key is 5 bytes, want 32"},
		{name: "secret key and file", env: map[string]string{"KEFU_SECRET_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "KEFU_SECRET_KEY_FILE": "/etc/kefu/secret.key"}, wantErr: "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.args, envOf(tt.env), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error must be one line: %q", err)
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

func TestSecretsMasked(t *testing.T) {
	c, err := Parse([]string{"--admin-password", "hunter2-very-secret"}, envOf(map[string]string{"OPENAI_API_KEY": "sk-live-123456",
		"KEFU_SECRET_KEY": "Zm9yLWEtdGVzdC1vbmx5LXRoaXJ0eS10d28tYnl0ZXM="}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(c.LogAttrs()...)
	for _, secret := range []string{"hunter2-very-secret", "sk-live-123456", "Zm9yLWEtdGVzdC1vbmx5LXRoaXJ0eS10d28tYnl0ZXM="} {
		if strings.Contains(got, secret) {
			t.Errorf("LogAttrs shows secret %q: %s", secret, got)
		}
	}
	if !strings.Contains(got, "admin-password=******") {
		t.Errorf("LogAttrs should show the masked secret: %s", got)
	}
}

var update = flag.Bool("update", false, "rewrite the README's configuration table")

// The README's configuration table is generated from the option table; this
// keeps the two from drifting. -update rewrites it.
func TestReadmeTableCurrent(t *testing.T) {
	const path = "../../../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	s := string(b)
	startMark, endMark := "<!-- config-table:start", "<!-- config-table:end -->"
	i, j := strings.Index(s, startMark), strings.Index(s, endMark)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %s … %s markers", startMark, endMark)
	}
	i += strings.Index(s[i:], "-->\n") + len("-->\n")
	if s[i:j] == Markdown() {
		return
	}
	if !*update {
		t.Fatalf("README.md configuration table is stale; run: go test ./relay/internal/config -run Readme -update")
	}
	if err := os.WriteFile(path, []byte(s[:i]+Markdown()+s[j:]), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestChangedAttrsOnlyNonDefaults(t *testing.T) {
	c, err := Parse([]string{"--addr", "127.0.0.1:9", "--metrics-token", "0123456789abcdef"}, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(c.ChangedAttrs())
	if got != "[addr=127.0.0.1:9 metrics-token=******]" {
		t.Errorf("ChangedAttrs = %s", got)
	}
}

// The /etc/kefu example in docs/ names only real settings, and its values,
// the commented-out ones too, are valid.
func TestEtcKefuExampleIsValid(t *testing.T) {
	data, err := os.ReadFile("../../../docs/deploy/kefu.env")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, e := range EnvNames() {
		known[e] = true
	}
	env := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		kv := strings.TrimPrefix(line, "#")
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.ContainsAny(k, " \t") {
			continue // prose
		}
		if !known[k] {
			t.Errorf("line %d: %s is not a setting of the relay", i+1, k)
		}
		env[k] = v
	}
	if len(env) < 5 {
		t.Fatalf("only %d settings found in the example", len(env))
	}
	if _, err := Parse(nil, envOf(env), io.Discard); err != nil {
		t.Errorf("the example does not parse: %v", err)
	}
}
