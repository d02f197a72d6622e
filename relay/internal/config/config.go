// Package config holds the relay's settings: one table of options, filled
// from command-line flags, then KEFU_* environment variables, then defaults,
// validated once and passed down explicitly.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Config is every setting of a running relay.
type Config struct {
	Addr           string
	DataDir        string
	AllowedOrigins []string // host patterns for the visitor socket; empty means any
	PublicURL      string   // how customer sites reach the relay, for the embed snippet
	FrameAncestors []string // origins allowed to frame the relay's pages; empty means none
	BehindProxy    bool
	LogLevel       slog.Level
	LogFormat      string

	MaxFrameBytes    int
	MaxMessageBytes  int
	MaxFileBytes     int // largest attachment; 0: attachments off
	VisitorFileQuota int // bytes of attachments per visitor
	RatePerConn      float64
	RatePerVisitor   float64
	MaxConnsPerIP    int
	RatePerIP        float64
	SendQueue        int
	WriteTimeout     time.Duration
	PingInterval     time.Duration
	HelloTimeout     time.Duration
	ShutdownTimeout  time.Duration
	DBLockTimeout    time.Duration
	MaxBatch         int
	LogCompactAt     int
	PprofAddr        string
	MetricsAddr      string
	MetricsToken     string
	// IdentitySecret signs Kefu.identify's user ids (user_hash); with
	// RequireSignedIdentity unsigned identities are refused.
	IdentitySecret        string
	RequireSignedIdentity bool
	Repair                bool
	AdminPassword         string
	OpenAIAPIKey          string
	OpenAIBaseURL         string
	AIFirstToken          time.Duration
	AIChunkGap            time.Duration
	AIAnswerTimeout       time.Duration
	AIStillWorking        time.Duration // mid-answer silence before "still working"
	AIAbandonAfter        time.Duration // cancel an answer nobody listens to
	AIPollGrace           time.Duration // a plain-HTTP client listens this long
	AIMaxConcurrent       int
	AIDailyTokens         int
	DemoIntents           bool
	SessionIdle           time.Duration
	SessionAbsolute       time.Duration
	LoginMemoryMiB        int
	HeapFloorMiB          int // 0: GOGC alone paces the collector
	AgentOfflineDrop      time.Duration
	RetentionEvery        time.Duration
	RetentionBatch        int

	// AllowPrivateDestinations lets admin-chosen destinations whose
	// answers the relay reads back (the AI test, webhook URLs) be on
	// loopback or a private network.
	AllowPrivateDestinations bool

	// SecretKeyFile holds the key that seals stored secrets; "" means
	// secret.key in DataDir. SecretKey is the key's text in its place.
	SecretKeyFile string
	SecretKey     string
	// ForgetSecrets drops stored secrets the key cannot open.
	ForgetSecrets bool

	Cluster Cluster // NATS JetStream instead of bbolt (cluster.go)
}

// Parse reads flags from args (none in the js/wasm build: flags_js.go),
// then the environment through getenv for every option not given as a
// flag, then defaults. Every error is one line naming the option, so the
// command can print it and exit 2.
func Parse(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	var c Config
	opts := options()
	raw, given, err := parseFlags(args, opts, usage)
	if err != nil {
		return c, err
	}
	for _, o := range opts {
		v, src := o.def, "default"
		if given[o.name] {
			v, src = *raw[o.name], "--"+o.name
		} else if e := getenv(o.env); e != "" {
			v, src = e, o.env
		}
		if err := o.set(&c, strings.TrimSpace(v)); err != nil {
			shown := maskIf(o.secret, v)
			if o.redact != nil {
				shown = o.redact(v)
			}
			return c, fmt.Errorf("config: invalid %s %q: %w", src, shown, err)
		}
	}
	if c.PingInterval*2 > 60*time.Second {
		return c, errors.New("config: --ping-interval must be at most 30s so a dead peer is freed within 60s")
	}
	if c.SecretKey != "" && c.SecretKeyFile != "" {
		return c, errors.New("config: set --secret-key (KEFU_SECRET_KEY) or --secret-key-file (KEFU_SECRET_KEY_FILE), not both")
	}
	if c.RequireSignedIdentity && c.IdentitySecret == "" {
		return c, errors.New("config: --require-signed-identity needs --identity-secret (KEFU_IDENTITY_SECRET): without it no identity could be verified")
	}
	if err := checkCluster(&c); err != nil {
		return c, err
	}
	if c.MaxMessageBytes+512 > c.MaxFrameBytes {
		return c, fmt.Errorf("config: --max-frame-bytes (%d) must exceed --max-message-bytes (%d) by at least 512 for the frame envelope", c.MaxFrameBytes, c.MaxMessageBytes)
	}
	return c, nil
}

// LogAttrs returns every option as a log attribute, secrets masked.
func (c Config) LogAttrs() []any {
	var attrs []any
	for _, o := range options() {
		attrs = append(attrs, slog.String(o.name, maskIf(o.secret, o.get(&c))))
	}
	return attrs
}

// ChangedAttrs returns the options that differ from their defaults as log
// attributes, secrets masked: the short form of LogAttrs.
func (c Config) ChangedAttrs() []any {
	var attrs []any
	var def Config
	for _, o := range options() {
		o.set(&def, o.def) // defaults are valid; set normalises them as it does flags
		if v := o.get(&c); v != o.get(&def) {
			attrs = append(attrs, slog.String(o.name, maskIf(o.secret, v)))
		}
	}
	return attrs
}

// EnvNames lists the environment variables the options read.
func EnvNames() []string {
	var out []string
	for _, o := range options() {
		out = append(out, o.env)
	}
	return out
}

// Default is the default value of the option with this flag name ("" for
// an unknown name).
func Default(name string) string {
	for _, o := range options() {
		if o.name == name {
			return o.def
		}
	}
	return ""
}

// WriteUsage prints the options with their environment variables and defaults.
func WriteUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: kefu [serve] [flags]\n\nFlags (each also read from its environment variable):")
	for _, o := range options() {
		fmt.Fprintf(w, "  --%s (%s, default %q)\n      %s\n", o.name, o.env, o.def, o.usage)
	}
}

// Markdown renders the option table for the README.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| flag | environment | default | meaning |\n|---|---|---|---|\n")
	for _, o := range options() {
		def := "`" + o.def + "`"
		if o.def == "" {
			def = "(none)"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", o.name, o.env, def, o.usage)
	}
	return b.String()
}

func maskIf(secret bool, v string) string {
	if !secret || v == "" {
		return v
	}
	return "******"
}
