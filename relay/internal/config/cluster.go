package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Storage modes: which backend a relay runs on (Config.Mode).
const (
	// ModeSingle is one node on its own bbolt file: no cluster option set.
	ModeSingle = "single"
	// ModeEmbedded runs a NATS server with JetStream inside each kefu
	// process, the processes joined by routes (--cluster-name, --cluster-peers).
	ModeEmbedded = "embedded"
	// ModeExternal uses a NATS cluster the operator runs (--nats-url).
	ModeExternal = "external"
)

// Cluster is the part of the configuration that puts the relay on NATS
// JetStream. Its zero value is ModeSingle.
type Cluster struct {
	Name       string   // embedded: the cluster's name, the same on every node
	NodeName   string   // this node's name, unique and stable across restarts
	Listen     string   // embedded: address other nodes' routes connect to
	Peers      []string // embedded: host:port of the nodes' route listeners
	NATSListen string   // embedded: optional client listener for tools
	SyncAlways bool     // embedded: fsync every JetStream write before its ack
	NATSURL    string   // external: the cluster's client URLs
	Creds      string   // external: credentials file (JWT and NKey seed)
	CA         string   // external: CA certificate file to verify the servers
	Cert, Key  string   // external: client certificate and key files (mutual TLS)
	Replicas   int      // copies of each stream and bucket; 0 chooses
	Prefix     string   // names the stream, subjects and buckets
}

// Mode is the storage mode the options choose.
func (c Config) Mode() string {
	switch {
	case c.Cluster.NATSURL != "":
		return ModeExternal
	case c.Cluster.Name != "":
		return ModeEmbedded
	}
	return ModeSingle
}

// nodeName reports whether s is a node name: a letter or digit, then up
// to 62 letters, digits, '_' or '-' (^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$).
// Checked by hand, not with regexp: the edge build links no regexp
// (docs/decisions.md, issue 17); TestMatchersAgreeWithRegexp holds them
// to the expressions.
func nodeName(s string) bool {
	if len(s) == 0 || len(s) > 63 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// streamPrefix reports whether s is a stream prefix: 1 to 32 lower-case
// letters, digits, '_' or '-' (^[a-z0-9_-]{1,32}$).
func streamPrefix(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLowerAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return isLowerAlnum(c) || c >= 'A' && c <= 'Z' }

func clusterOptions() []option {
	str := func(field func(*Config) *string) func(*Config) string {
		return func(c *Config) string { return *field(c) }
	}
	file := func(field func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error {
			*field(c) = v
			if v == "" {
				return nil
			}
			if _, err := os.Stat(v); err != nil {
				return fmt.Errorf("cannot read the file: %w", errors.Unwrap(err))
			}
			return nil
		}
	}
	return []option{
		{name: "cluster-name", env: "KEFU_CLUSTER_NAME", def: "", usage: "run as one node of a cluster on NATS JetStream embedded in this process (the same name on every node; needs --cluster-peers); empty with no --nats-url: one node on bbolt",
			set: func(c *Config, v string) error {
				if v != "" && !nodeName(v) {
					return errors.New("use letters, digits, - and _ (at most 63)")
				}
				c.Cluster.Name = v
				return nil
			},
			get: str(func(c *Config) *string { return &c.Cluster.Name })},
		{name: "node-name", env: "KEFU_NODE_NAME", def: "", usage: "this node's name in the cluster: unique, and the same across restarts (JetStream knows its replicas by it); empty: the host name",
			set: func(c *Config, v string) error {
				if v == "" {
					h, err := os.Hostname()
					if err != nil {
						return fmt.Errorf("no host name to default to: %w", err)
					}
					v = strings.ReplaceAll(h, ".", "-")
				}
				if !nodeName(v) {
					return errors.New("use letters, digits, - and _ (at most 63)")
				}
				c.Cluster.NodeName = v
				return nil
			},
			get: str(func(c *Config) *string { return &c.Cluster.NodeName })},
		{name: "cluster-listen", env: "KEFU_CLUSTER_LISTEN", def: ":6222", usage: "address the other nodes connect to (NATS routes; keep it on a private network)",
			set: func(c *Config, v string) error { c.Cluster.Listen = v; return checkAddr(v) },
			get: str(func(c *Config) *string { return &c.Cluster.Listen })},
		{name: "cluster-peers", env: "KEFU_CLUSTER_PEERS", def: "", usage: "comma-separated host:port of every node's --cluster-listen (this node's own may be listed too)",
			set: func(c *Config, v string) error {
				c.Cluster.Peers = nil
				for _, p := range strings.Split(v, ",") {
					if p = strings.TrimSpace(p); p == "" {
						continue
					}
					if err := checkAddr(p); err != nil {
						return fmt.Errorf("peer %q: %w", p, err)
					}
					c.Cluster.Peers = append(c.Cluster.Peers, p)
				}
				return nil
			},
			get: func(c *Config) string { return strings.Join(c.Cluster.Peers, ",") }},
		{name: "nats-listen", env: "KEFU_NATS_LISTEN", def: "", usage: "also serve NATS clients (the `nats` tool, monitoring) on this address, without authentication: keep it on loopback; empty: only this process talks to its NATS server",
			set: func(c *Config, v string) error {
				c.Cluster.NATSListen = v
				if v == "" {
					return nil
				}
				return checkAddr(v)
			},
			get: str(func(c *Config) *string { return &c.Cluster.NATSListen })},
		{name: "sync-always", env: "KEFU_SYNC_ALWAYS", def: "false", usage: "embedded cluster: every node fsyncs a write before it counts towards the quorum that acknowledges it; false: acknowledged once a majority of nodes wrote it to the operating system (it survives killed processes, and reaches the disk within 2 minutes; docs/cluster.md)",
			set: boolSetter(func(c *Config) *bool { return &c.Cluster.SyncAlways }),
			get: func(c *Config) string { return strconv.FormatBool(c.Cluster.SyncAlways) }},
		{name: "nats-url", env: "KEFU_NATS_URL", def: "", usage: "use the NATS JetStream cluster at these comma-separated URLs (`nats://n1:4222,nats://n2:4222`) instead of bbolt or an embedded server",
			set: func(c *Config, v string) error {
				c.Cluster.NATSURL = v
				for _, u := range strings.Split(v, ",") {
					if v == "" {
						break
					}
					p, err := url.Parse(strings.TrimSpace(u))
					if err != nil || p.Host == "" || (p.Scheme != "nats" && p.Scheme != "tls" && p.Scheme != "ws" && p.Scheme != "wss") {
						return errors.New("must be nats://, tls://, ws:// or wss:// URLs separated by commas")
					}
				}
				return nil
			},
			get:    func(c *Config) string { return redactURLs(c.Cluster.NATSURL) },
			redact: redactURLs},
		{name: "nats-creds", env: "KEFU_NATS_CREDS", def: "", usage: "credentials file (user JWT and NKey seed) for --nats-url",
			set: file(func(c *Config) *string { return &c.Cluster.Creds }), get: str(func(c *Config) *string { return &c.Cluster.Creds })},
		{name: "nats-ca", env: "KEFU_NATS_CA", def: "", usage: "CA certificate (PEM) that signed the --nats-url servers' certificates; empty: the system's",
			set: file(func(c *Config) *string { return &c.Cluster.CA }), get: str(func(c *Config) *string { return &c.Cluster.CA })},
		{name: "nats-cert", env: "KEFU_NATS_CERT", def: "", usage: "client certificate (PEM) for --nats-url servers that verify clients (with --nats-key)",
			set: file(func(c *Config) *string { return &c.Cluster.Cert }), get: str(func(c *Config) *string { return &c.Cluster.Cert })},
		{name: "nats-key", env: "KEFU_NATS_KEY", def: "", usage: "private key (PEM) of --nats-cert",
			set: file(func(c *Config) *string { return &c.Cluster.Key }), get: str(func(c *Config) *string { return &c.Cluster.Key })},
		{name: "replicas", env: "KEFU_REPLICAS", def: "0", usage: "copies JetStream keeps of every message and record (1, 3 or 5); 0: 3 on a cluster of three or more nodes, else 1",
			set: func(c *Config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || (n != 0 && n != 1 && n != 3 && n != 5) {
					return errors.New("must be 0, 1, 3 or 5")
				}
				c.Cluster.Replicas = n
				return nil
			},
			get: func(c *Config) string { return strconv.Itoa(c.Cluster.Replicas) }},
		{name: "nats-prefix", env: "KEFU_NATS_PREFIX", def: "kefu", usage: "names Kefu's stream, buckets and subjects, so several installations can share one NATS account",
			set: func(c *Config, v string) error {
				if !streamPrefix(v) {
					return errors.New("use 1 to 32 lower-case letters, digits, - or _")
				}
				c.Cluster.Prefix = v
				return nil
			},
			get: str(func(c *Config) *string { return &c.Cluster.Prefix })},
	}
}

// checkCluster validates the cluster options together, once each is valid.
func checkCluster(c *Config) error {
	cl := c.Cluster
	switch {
	case cl.NATSURL != "" && cl.Name != "":
		return errors.New("config: choose one: --nats-url (a NATS cluster you run) or --cluster-name (NATS embedded in each kefu)")
	case cl.Name != "" && len(cl.Peers) == 0:
		return errors.New("config: --cluster-name needs --cluster-peers (the nodes' --cluster-listen addresses)")
	case cl.Name == "" && len(cl.Peers) > 0:
		return errors.New("config: --cluster-peers needs --cluster-name")
	case cl.NATSURL == "" && (cl.Creds != "" || cl.CA != "" || cl.Cert != "" || cl.Key != ""):
		return errors.New("config: --nats-creds, --nats-ca, --nats-cert and --nats-key are for --nats-url")
	case (cl.Cert == "") != (cl.Key == ""):
		return errors.New("config: --nats-cert and --nats-key go together")
	case cl.NATSURL != "" && cl.SyncAlways:
		return errors.New("config: --sync-always is for the embedded cluster; with --nats-url set sync_interval: always in the NATS servers' configuration")
	case cl.NATSURL != "" && cl.NATSListen != "":
		return errors.New("config: --nats-listen is for the embedded cluster")
	case c.Mode() == ModeEmbedded && cl.Replicas > len(cl.Peers):
		return fmt.Errorf("config: --replicas %d needs at least %d nodes in --cluster-peers, not %d", cl.Replicas, cl.Replicas, len(cl.Peers))
	}
	return nil
}

// redactURLs hides the passwords and tokens in NATS URLs for the log.
func redactURLs(v string) string {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			continue
		}
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "******")
		} else {
			u.User = url.User("******") // a token
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
