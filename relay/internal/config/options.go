package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/kefuhq/kefu/relay/internal/secret"
)

// option is one row of the table: the only place an option is named.
type option struct {
	name   string // flag name
	env    string // environment fallback
	def    string
	usage  string
	secret bool
	redact func(v string) string // shows a value with its secret parts hidden (secret hides it all)
	set    func(c *Config, v string) error
	get    func(c *Config) string
}

func options() []option {
	return append(relayOptions(), clusterOptions()...)
}

func relayOptions() []option {
	return []option{
		{name: "addr", env: "KEFU_ADDR", def: ":8020", usage: "address to listen on",
			set: func(c *Config, v string) error { c.Addr = v; return checkAddr(v) },
			get: func(c *Config) string { return c.Addr }},
		{name: "data", env: "KEFU_DATA", def: "./data", usage: "directory for the database (created if missing)",
			set: func(c *Config, v string) error {
				if v == "" {
					return errors.New("must not be empty")
				}
				c.DataDir = v
				return nil
			},
			get: func(c *Config) string { return c.DataDir }},
		{name: "allowed-origins", env: "KEFU_ALLOWED_ORIGINS", def: "*", usage: "comma-separated site patterns allowed to open the visitor socket (`shop.example.com`, `*.example.com`, `https://example.com`); `*` allows any",
			set: func(c *Config, v string) error { var err error; c.AllowedOrigins, err = parseOrigins(v); return err },
			get: func(c *Config) string {
				if len(c.AllowedOrigins) == 0 {
					return "*"
				}
				return strings.Join(c.AllowedOrigins, ",")
			}},
		{name: "public-url", env: "KEFU_PUBLIC_URL", def: "", usage: "the relay's address as customer sites reach it (`https://chat.example.com`), for the embed snippet in the admin page; empty: the address the admin page was opened on",
			set: func(c *Config, v string) error {
				if v == "" {
					c.PublicURL = ""
					return nil
				}
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" && u.Path != "/" {
					return errors.New("must be an http(s) URL without a path")
				}
				c.PublicURL = strings.TrimRight(v, "/")
				return nil
			},
			get: func(c *Config) string { return c.PublicURL }},
		{name: "frame-ancestors", env: "KEFU_FRAME_ANCESTORS", def: "", usage: "comma-separated origins allowed to frame the relay's pages, the admin page and console included (`https://backoffice.example.com`, `https://*.example.com`); empty: no site may frame them",
			set: func(c *Config, v string) error {
				var err error
				c.FrameAncestors, err = parseFrameAncestors(v)
				return err
			},
			get: func(c *Config) string { return strings.Join(c.FrameAncestors, ",") }},
		{name: "behind-proxy", env: "KEFU_BEHIND_PROXY", def: "false", usage: "trust X-Forwarded-For and X-Forwarded-Proto from the proxy in front",
			set: boolSetter(func(c *Config) *bool { return &c.BehindProxy }),
			get: func(c *Config) string { return strconv.FormatBool(c.BehindProxy) }},
		{name: "log-level", env: "KEFU_LOG_LEVEL", def: "info", usage: "debug, info, warn or error",
			set: func(c *Config, v string) error { return c.LogLevel.UnmarshalText([]byte(v)) },
			get: func(c *Config) string { return strings.ToLower(c.LogLevel.String()) }},
		{name: "log-format", env: "KEFU_LOG_FORMAT", def: "text", usage: "text or json",
			set: func(c *Config, v string) error {
				if v != "text" && v != "json" {
					return errors.New("must be text or json")
				}
				c.LogFormat = v
				return nil
			},
			get: func(c *Config) string { return c.LogFormat }},
		{name: "max-frame-bytes", env: "KEFU_MAX_FRAME_BYTES", def: "16384", usage: "largest WebSocket frame accepted; bigger ones close the socket with 1009",
			set: intSetter(1024, 1<<20, func(c *Config) *int { return &c.MaxFrameBytes }),
			get: func(c *Config) string { return strconv.Itoa(c.MaxFrameBytes) }},
		{name: "max-message-bytes", env: "KEFU_MAX_MESSAGE_BYTES", def: "4096", usage: "longest chat message text in bytes of UTF-8",
			set: intSetter(16, 1<<19, func(c *Config) *int { return &c.MaxMessageBytes }),
			get: func(c *Config) string { return strconv.Itoa(c.MaxMessageBytes) }},
		{name: "max-file-bytes", env: "KEFU_MAX_FILE_BYTES", def: "10485760", usage: "largest attachment (image, PDF, text) a visitor or an agent may send, in bytes; 0 turns attachments off",
			set: intSetter(0, 100<<20, func(c *Config) *int { return &c.MaxFileBytes }),
			get: func(c *Config) string { return strconv.Itoa(c.MaxFileBytes) }},
		{name: "visitor-file-quota", env: "KEFU_VISITOR_FILE_QUOTA", def: "52428800", usage: "bytes of attachments one visitor may store in all (their uploads still on the way count in full)",
			set: intSetter(0, 1<<30, func(c *Config) *int { return &c.VisitorFileQuota }),
			get: func(c *Config) string { return strconv.Itoa(c.VisitorFileQuota) }},
		{name: "rate-per-conn", env: "KEFU_RATE_PER_CONN", def: "5", usage: "messages per second one connection may send (burst of twice that)",
			set: floatSetter(0.01, 1e6, func(c *Config) *float64 { return &c.RatePerConn }),
			get: func(c *Config) string { return strconv.FormatFloat(c.RatePerConn, 'g', -1, 64) }},
		{name: "rate-per-visitor", env: "KEFU_RATE_PER_VISITOR", def: "8", usage: "messages per second one visitor may send over all their tabs (burst of twice that)",
			set: floatSetter(0.01, 1e6, func(c *Config) *float64 { return &c.RatePerVisitor }),
			get: func(c *Config) string { return strconv.FormatFloat(c.RatePerVisitor, 'g', -1, 64) }},
		{name: "max-conns-per-ip", env: "KEFU_MAX_CONNS_PER_IP", def: "200", usage: "open sockets allowed from one IP address; 0 means no limit",
			set: intSetter(0, 1<<30, func(c *Config) *int { return &c.MaxConnsPerIP }),
			get: func(c *Config) string { return strconv.Itoa(c.MaxConnsPerIP) }},
		{name: "rate-per-ip", env: "KEFU_RATE_PER_IP", def: "2", usage: "new conversations and classifications per second one address may start (burst of 30 times that); 0 means no limit",
			set: floatSetter(0, 1e6, func(c *Config) *float64 { return &c.RatePerIP }),
			get: func(c *Config) string { return strconv.FormatFloat(c.RatePerIP, 'g', -1, 64) }},
		{name: "send-queue", env: "KEFU_SEND_QUEUE", def: "256", usage: "frames queued for one slow connection before it is disconnected (4008)",
			set: intSetter(8, 1<<16, func(c *Config) *int { return &c.SendQueue }),
			get: func(c *Config) string { return strconv.Itoa(c.SendQueue) }},
		{name: "write-timeout", env: "KEFU_WRITE_TIMEOUT", def: "10s", usage: "time allowed for one frame's write, and for the pong the relay asks for once 32 KiB are unacknowledged, before the connection is dropped (4008)",
			set: durSetter(10*time.Millisecond, time.Minute, func(c *Config) *time.Duration { return &c.WriteTimeout }),
			get: func(c *Config) string { return c.WriteTimeout.String() }},
		{name: "ping-interval", env: "KEFU_PING_INTERVAL", def: "10s", usage: "heartbeat period: a WebSocket ping and a ping frame; the relay drops a peer that misses a pong for as long, clients reconnect after 2.5 times as long without a frame",
			set: durSetter(10*time.Millisecond, 30*time.Second, func(c *Config) *time.Duration { return &c.PingInterval }),
			get: func(c *Config) string { return c.PingInterval.String() }},
		{name: "hello-timeout", env: "KEFU_HELLO_TIMEOUT", def: "10s", usage: "a socket that has not said hello by then is closed (4000)",
			set: durSetter(10*time.Millisecond, time.Minute, func(c *Config) *time.Duration { return &c.HelloTimeout }),
			get: func(c *Config) string { return c.HelloTimeout.String() }},
		{name: "shutdown-timeout", env: "KEFU_SHUTDOWN_TIMEOUT", def: "15s", usage: "time SIGTERM allows for in-flight work before sockets are cut",
			set: durSetter(0, 10*time.Minute, func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
			get: func(c *Config) string { return c.ShutdownTimeout.String() }},
		{name: "db-lock-timeout", env: "KEFU_DB_LOCK_TIMEOUT", def: "1s", usage: "how long to wait for the database lock held by another relay",
			set: durSetter(time.Millisecond, time.Minute, func(c *Config) *time.Duration { return &c.DBLockTimeout }),
			get: func(c *Config) string { return c.DBLockTimeout.String() }},
		{name: "max-batch", env: "KEFU_MAX_BATCH", def: "1024", usage: "most writes committed together in one fsync (group commit)",
			set: intSetter(1, 1<<16, func(c *Config) *int { return &c.MaxBatch }),
			get: func(c *Config) string { return strconv.Itoa(c.MaxBatch) }},
		{name: "log-compact-at", env: "KEFU_LOG_COMPACT_AT", def: "8192", usage: "new messages kept in the single-node store's append-only log before they are moved into the per-conversation tree; 0: no log, messages written straight into the tree (the layout before the log, for comparisons)",
			set: intSetter(0, 1<<20, func(c *Config) *int { return &c.LogCompactAt }),
			get: func(c *Config) string { return strconv.Itoa(c.LogCompactAt) }},
		{name: "pprof-addr", env: "KEFU_PPROF_ADDR", def: "", usage: "serve Go's /debug/pprof/ on this separate address (keep it on loopback, e.g. `127.0.0.1:6060`); empty: off",
			set: func(c *Config, v string) error {
				c.PprofAddr = v
				if v == "" {
					return nil
				}
				return checkAddr(v)
			},
			get: func(c *Config) string { return c.PprofAddr }},
		{name: "metrics-addr", env: "KEFU_METRICS_ADDR", def: "", usage: "serve Prometheus /metrics on this separate address (e.g. `127.0.0.1:9020`); empty: not served there",
			set: func(c *Config, v string) error {
				c.MetricsAddr = v
				if v == "" {
					return nil
				}
				return checkAddr(v)
			},
			get: func(c *Config) string { return c.MetricsAddr }},
		{name: "metrics-token", env: "KEFU_METRICS_TOKEN", def: "", secret: true, usage: "serve /metrics on the main address too, to requests with `Authorization: Bearer TOKEN` (also required on --metrics-addr when set); at least 16 characters",
			set: func(c *Config, v string) error {
				c.MetricsToken = v
				if v != "" && len(v) < 16 {
					return errors.New("must be at least 16 characters")
				}
				return nil
			},
			get: func(c *Config) string { return c.MetricsToken }},
		{name: "identity-secret", env: "KEFU_IDENTITY_SECRET", def: "", secret: true, usage: "verifies the user_hash a page gives Kefu.identify: hex(HMAC-SHA256(this secret, user_id)), computed on the shop's server; a verified visitor shows identity_verified=true to agents. At least 32 characters (`openssl rand -hex 32`); every node of a cluster needs the same",
			set: func(c *Config, v string) error {
				c.IdentitySecret = v
				if v != "" && len(v) < 32 {
					return errors.New("must be at least 32 characters")
				}
				return nil
			},
			get: func(c *Config) string { return c.IdentitySecret }},
		{name: "require-signed-identity", env: "KEFU_REQUIRE_SIGNED_IDENTITY", def: "false", usage: "refuse identify frames without a valid user_hash (error identity_refused, nothing stored); needs --identity-secret",
			set: boolSetter(func(c *Config) *bool { return &c.RequireSignedIdentity }),
			get: func(c *Config) string { return strconv.FormatBool(c.RequireSignedIdentity) }},
		{name: "repair", env: "KEFU_REPAIR", def: "false", usage: "before serving, check every record and set damaged ones aside (as `kefu repair` does) instead of refusing to start; slow on big databases",
			set: boolSetter(func(c *Config) *bool { return &c.Repair }),
			get: func(c *Config) string { return strconv.FormatBool(c.Repair) }},
		{name: "admin-password", env: "KEFU_ADMIN_PASSWORD", def: "", secret: true, usage: "password of the first admin, used only when no account exists yet; empty prints a random one once",
			set: func(c *Config, v string) error { c.AdminPassword = v; return nil },
			get: func(c *Config) string { return c.AdminPassword }},
		{name: "secret-key-file", env: "KEFU_SECRET_KEY_FILE", def: "", usage: "file holding the key that seals stored secrets such as the AI key; empty: secret.key in the data directory, created (mode 0600) at the first start. Back it up with the database; every node of a cluster needs the same file",
			set: func(c *Config, v string) error { c.SecretKeyFile = v; return nil },
			get: func(c *Config) string { return c.SecretKeyFile }},
		{name: "secret-key", env: "KEFU_SECRET_KEY", def: "", secret: true, usage: "the key itself (a key file's one line: 32 random bytes in base64, `openssl rand -base64 32`) in place of the file: for the edge build's Worker secret, or a container given its secrets in the environment",
			set: func(c *Config, v string) error {
				c.SecretKey = v
				if v == "" {
					return nil
				}
				_, err := secret.Parse(v)
				return err
			},
			get: func(c *Config) string { return c.SecretKey }},
		{name: "forget-secrets", env: "KEFU_FORGET_SECRETS", def: "false", usage: "start even when stored secrets cannot be opened with the key (a lost key file): they are deleted, and the AI key must be entered again",
			set: boolSetter(func(c *Config) *bool { return &c.ForgetSecrets }),
			get: func(c *Config) string { return strconv.FormatBool(c.ForgetSecrets) }},
		{name: "openai-api-key", env: "OPENAI_API_KEY", def: "", secret: true, usage: "key for the OpenAI-compatible upstream, used until one is set in the admin page",
			set: func(c *Config, v string) error { c.OpenAIAPIKey = v; return nil },
			get: func(c *Config) string { return c.OpenAIAPIKey }},
		{name: "openai-base-url", env: "OPENAI_BASE_URL", def: "", usage: "OpenAI-compatible API base URL (empty: OpenAI's), used until one is set in the admin page; setting it or a key turns the AI on",
			set: func(c *Config, v string) error {
				if v == "" {
					c.OpenAIBaseURL = ""
					return nil
				}
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return errors.New("must be an http(s) URL")
				}
				c.OpenAIBaseURL = v
				return nil
			},
			get: func(c *Config) string { return c.OpenAIBaseURL }},
		{name: "allow-private-destinations", env: "KEFU_ALLOW_PRIVATE_DESTINATIONS", def: "false", usage: "let the admin page's AI test and webhook URLs reach loopback and private-network addresses (an upstream or a receiver on your own network, a local fake); cloud metadata and link-local addresses stay refused. Answers to visitors may always come from a private address",
			set: boolSetter(func(c *Config) *bool { return &c.AllowPrivateDestinations }),
			get: func(c *Config) string { return strconv.FormatBool(c.AllowPrivateDestinations) }},
		{name: "ai-first-token-timeout", env: "KEFU_AI_FIRST_TOKEN_TIMEOUT", def: "20s", usage: "hand off to a person when the AI has not started answering by then",
			set: durSetter(time.Millisecond, 10*time.Minute, func(c *Config) *time.Duration { return &c.AIFirstToken }),
			get: func(c *Config) string { return c.AIFirstToken.String() }},
		{name: "ai-chunk-timeout", env: "KEFU_AI_CHUNK_TIMEOUT", def: "30s", usage: "longest silence allowed between two parts of an AI answer",
			set: durSetter(time.Millisecond, 10*time.Minute, func(c *Config) *time.Duration { return &c.AIChunkGap }),
			get: func(c *Config) string { return c.AIChunkGap.String() }},
		{name: "ai-answer-timeout", env: "KEFU_AI_ANSWER_TIMEOUT", def: "120s", usage: "longest time one AI answer may take",
			set: durSetter(time.Millisecond, time.Hour, func(c *Config) *time.Duration { return &c.AIAnswerTimeout }),
			get: func(c *Config) string { return c.AIAnswerTimeout.String() }},
		{name: "ai-still-working-after", env: "KEFU_AI_STILL_WORKING_AFTER", def: "4s", usage: "silence in the middle of an AI answer after which the visitor is shown that the assistant is still working",
			set: durSetter(time.Millisecond, 10*time.Minute, func(c *Config) *time.Duration { return &c.AIStillWorking }),
			get: func(c *Config) string { return c.AIStillWorking.String() }},
		{name: "ai-abandon-after", env: "KEFU_AI_ABANDON_AFTER", def: "10s", usage: "cancel an AI answer (kept as incomplete) when nobody has been listening for this long: no socket, no event stream, no HTTP client within --ai-poll-grace",
			set: durSetter(time.Millisecond, time.Hour, func(c *Config) *time.Duration { return &c.AIAbandonAfter }),
			get: func(c *Config) string { return c.AIAbandonAfter.String() }},
		{name: "ai-poll-grace", env: "KEFU_AI_POLL_GRACE", def: "60s", usage: "how long a client that sends and polls over plain HTTP counts as listening after its last request",
			set: durSetter(time.Millisecond, time.Hour, func(c *Config) *time.Duration { return &c.AIPollGrace }),
			get: func(c *Config) string { return c.AIPollGrace.String() }},
		{name: "ai-max-concurrent", env: "KEFU_AI_MAX_CONCURRENT", def: "64", usage: "AI answers streaming from the upstream at once, over all visitors",
			set: intSetter(1, 1<<20, func(c *Config) *int { return &c.AIMaxConcurrent }),
			get: func(c *Config) string { return strconv.Itoa(c.AIMaxConcurrent) }},
		{name: "ai-daily-tokens", env: "KEFU_AI_DAILY_TOKENS", def: "2000000", usage: "tokens the AI may spend per UTC day; 0 means no limit",
			set: intSetter(0, math.MaxInt32, func(c *Config) *int { return &c.AIDailyTokens }), // 2^31-1: the same bound on 32-bit ARM
			get: func(c *Config) string { return strconv.Itoa(c.AIDailyTokens) }},
		{name: "demo", env: "KEFU_DEMO", def: "true", usage: "serve /demo and seed the default intents when there are none",
			set: boolSetter(func(c *Config) *bool { return &c.DemoIntents }),
			get: func(c *Config) string { return strconv.FormatBool(c.DemoIntents) }},
		{name: "session-idle", env: "KEFU_SESSION_IDLE", def: "12h", usage: "an admin or agent session unused this long expires",
			set: durSetter(time.Second, 30*24*time.Hour, func(c *Config) *time.Duration { return &c.SessionIdle }),
			get: func(c *Config) string { return c.SessionIdle.String() }},
		{name: "session-absolute", env: "KEFU_SESSION_ABSOLUTE", def: "168h", usage: "an admin or agent session expires this long after login whatever its use",
			set: durSetter(time.Second, 365*24*time.Hour, func(c *Config) *time.Duration { return &c.SessionAbsolute }),
			get: func(c *Config) string { return c.SessionAbsolute.String() }},
		{name: "login-memory", env: "KEFU_LOGIN_MEMORY", def: "64", usage: "MiB that password checks may hold at once (argon2id takes 19 MiB each): max(1, this ÷ 19) sign-ins hash in parallel, 16 per slot wait up to 5s, the rest get 503 with Retry-After",
			set: intSetter(19, 1<<16, func(c *Config) *int { return &c.LoginMemoryMiB }),
			get: func(c *Config) string { return strconv.Itoa(c.LoginMemoryMiB) }},
		{name: "heap-floor", env: "KEFU_HEAP_FLOOR", def: "32", usage: "MiB the Go collector lets the heap reach before it collects, whatever GOGC says of a smaller heap: a relay with few visitors collects less often, so a burst of AI answers is not slowed by a collection; a heap half this size or more is paced by GOGC alone; 0 turns this off; GOMEMLIMIT still bounds the heap",
			set: intSetter(0, 1<<16, func(c *Config) *int { return &c.HeapFloorMiB }),
			get: func(c *Config) string { return strconv.Itoa(c.HeapFloorMiB) }},
		{name: "agent-offline-grace", env: "KEFU_AGENT_OFFLINE_GRACE", def: "2m", usage: "an agent offline this long loses their open chats to colleagues",
			set: durSetter(time.Millisecond, 24*time.Hour, func(c *Config) *time.Duration { return &c.AgentOfflineDrop }),
			get: func(c *Config) string { return c.AgentOfflineDrop.String() }},
		{name: "retention-every", env: "KEFU_RETENTION_EVERY", def: "1h", usage: "how often the retention sweep deletes what the admin page's retention settings say has expired (nothing expires until they are set)",
			set: durSetter(time.Second, 7*24*time.Hour, func(c *Config) *time.Duration { return &c.RetentionEvery }),
			get: func(c *Config) string { return c.RetentionEvery.String() }},
		{name: "retention-batch", env: "KEFU_RETENTION_BATCH", def: "500", usage: "most conversations one pass of the retention sweep deletes before it writes its progress and goes on",
			set: intSetter(1, 100000, func(c *Config) *int { return &c.RetentionBatch }),
			get: func(c *Config) string { return strconv.Itoa(c.RetentionBatch) }},
	}
}

func checkAddr(v string) error {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return errors.New("must be host:port or :port")
	}
	return nil
}

func parseOrigins(v string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if p == "*" {
			return nil, nil
		}
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("bad pattern %q", p)
		}
		out = append(out, strings.ToLower(p))
	}
	if len(out) == 0 {
		return nil, errors.New("must list at least one pattern, or *")
	}
	return out, nil
}

// frameAncestor is an origin a CSP frame-ancestors source may name:
// scheme, host (optionally *. for subdomains) and port, nothing that could
// end the directive or add another:
// ^https?://(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$,
// checked by hand (nodeName says why).
func frameAncestor(s string) bool {
	rest, ok := strings.CutPrefix(s, "https://")
	if !ok {
		if rest, ok = strings.CutPrefix(s, "http://"); !ok {
			return false
		}
	}
	rest = strings.TrimPrefix(rest, "*.")
	// The host's letters hold no ':', so the first one starts the port.
	host, port, hasPort := strings.Cut(rest, ":")
	if host == "" || !isLowerAlnum(host[0]) || !isLowerAlnum(host[len(host)-1]) {
		return false
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !isLowerAlnum(c) && c != '.' && c != '-' {
			return false
		}
	}
	if !hasPort {
		return true
	}
	if port == "" || len(port) > 5 {
		return false
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}

func parseFrameAncestors(v string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(v, ",") {
		o = strings.ToLower(strings.TrimRight(strings.TrimSpace(o), "/"))
		if o == "" {
			continue
		}
		if !frameAncestor(o) {
			return nil, fmt.Errorf("%q is not an origin like https://backoffice.example.com or https://*.example.com", o)
		}
		out = append(out, o)
	}
	return out, nil
}

func intSetter(lo, hi int, field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("must be a whole number")
		}
		if n < lo || n > hi {
			return fmt.Errorf("must be between %d and %d", lo, hi)
		}
		*field(c) = n
		return nil
	}
}

func floatSetter(lo, hi float64, field func(*Config) *float64) func(*Config, string) error {
	return func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return errors.New("must be a number")
		}
		if f < lo || f > hi {
			return fmt.Errorf("must be between %g and %g", lo, hi)
		}
		*field(c) = f
		return nil
	}
}

func durSetter(lo, hi time.Duration, field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("must be a duration like 500ms, 10s or 2m")
		}
		if d < lo || d > hi {
			return fmt.Errorf("must be between %s and %s", lo, hi)
		}
		*field(c) = d
		return nil
	}
}

func boolSetter(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("must be true or false")
		}
		*field(c) = b
		return nil
	}
}
