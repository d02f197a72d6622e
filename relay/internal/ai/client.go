package ai

import (
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/kefuhq/kefu/relay/internal/egress"
)

// Defaults for Options, each with the reason for its value.
const (
	// DefaultFirstTokenTimeout: a visitor waiting longer than this without
	// a word is better served by a person.
	DefaultFirstTokenTimeout = 20 * time.Second
	// DefaultChunkGapTimeout: a healthy stream never pauses this long.
	DefaultChunkGapTimeout = 30 * time.Second
	// DefaultAnswerTimeout bounds one whole answer, retries included.
	DefaultAnswerTimeout = 120 * time.Second
	// DefaultMaxAttempts: one try and two retries on 429/5xx, all before
	// the first token and within the first-token timeout.
	DefaultMaxAttempts = 3
	// DefaultRetryBaseDelay doubles per retry (with jitter), up to
	// DefaultRetryMaxDelay.
	DefaultRetryBaseDelay = 500 * time.Millisecond
	DefaultRetryMaxDelay  = 4 * time.Second
	// DefaultDialTimeout bounds connecting and the TLS handshake.
	DefaultDialTimeout = 10 * time.Second
	// DefaultMaxLineBytes bounds one SSE line; real chunks are < 1 KB.
	DefaultMaxLineBytes = 1 << 20
	// DefaultMaxErrorBodyBytes bounds an error body read into memory.
	DefaultMaxErrorBodyBytes = 64 << 10
	// DefaultAcquireWait is how long Answer waits for a free upstream slot
	// before handing over with ErrBusy.
	DefaultAcquireWait = 5 * time.Second
	// emptyMessagesLimit lifts go-openai's limit on non-data lines in a row
	// (300, blank separators included): keep-alive comments are legitimate
	// while a model thinks, and the first-token and gap timeouts are what
	// bound a silent stream. The bytes such lines may use are bounded by
	// sseBody (maxNoise).
	emptyMessagesLimit = 10000
)

// Timeouts bound one answer; zero fields take the defaults. Tests set
// milliseconds.
type Timeouts struct {
	FirstToken time.Duration // request sent to first content, across retries
	ChunkGap   time.Duration // between two chunks after the first content
	Answer     time.Duration // the whole answer, retries included
}

// Retry shapes retries on 429 and 5xx before the first token.
type Retry struct {
	MaxAttempts int           // attempts in all, ≥ 1
	BaseDelay   time.Duration // first backoff, doubled per retry, with jitter
	MaxDelay    time.Duration // backoff cap
	// MaxRetryAfter: an upstream's Retry-After longer than this hands off
	// at once instead of waiting; 0 means whatever is left of the
	// first-token timeout, which always bounds the wait.
	MaxRetryAfter time.Duration
}

// Options configure a Client. Every field is optional.
type Options struct {
	Logger *slog.Logger     // discards if nil
	Now    func() time.Time // time.Now if nil

	Timeouts Timeouts
	Retry    Retry

	DialTimeout       time.Duration
	MaxLineBytes      int
	MaxErrorBodyBytes int64
	// Egress says which destinations the client may call: the base URL's
	// host when a call starts, and every address dialled. nil allows
	// loopback and private networks (self-hosted models) and refuses
	// metadata and link-local addresses; the admin page's AI test passes a
	// stricter policy.
	Egress *egress.Policy
	// Proxy for upstream requests; nil means direct (HTTP_PROXY is not read,
	// so the base URL checks see the real destination).
	Proxy func(*http.Request) (*url.URL, error)
	// Transport, when set, carries the upstream requests in place of the
	// relay's own http.Transport: the edge build passes the Workers fetch,
	// since a Worker cannot open sockets itself. The key's host binding,
	// redirect checks, error-body limit and [DONE] detection still wrap it;
	// Proxy, DialTimeout, TCP keepalive and the check of every dialled
	// address after DNS do not apply (nothing is dialled here), so only the
	// base URL checks guard against internal addresses.
	Transport http.RoundTripper

	// Limiter, Budget and Cache are used by Answer when non-nil.
	Limiter     *Limiter
	Budget      *Budget
	Cache       *Cache
	AcquireWait time.Duration

	// Metrics records what the client does; nil records nothing.
	Metrics Metrics
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Egress == nil {
		p := upstreamPolicy()
		o.Egress = &p
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = noMetrics{}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Timeouts.FirstToken, DefaultFirstTokenTimeout)
	def(&o.Timeouts.ChunkGap, DefaultChunkGapTimeout)
	def(&o.Timeouts.Answer, DefaultAnswerTimeout)
	def(&o.Retry.BaseDelay, DefaultRetryBaseDelay)
	def(&o.Retry.MaxDelay, DefaultRetryMaxDelay)
	def(&o.DialTimeout, DefaultDialTimeout)
	def(&o.AcquireWait, DefaultAcquireWait)
	if o.Retry.MaxAttempts <= 0 {
		o.Retry.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.MaxErrorBodyBytes <= 0 {
		o.MaxErrorBodyBytes = DefaultMaxErrorBodyBytes
	}
	return o
}

// Client streams answers from an OpenAI-compatible upstream. It is safe for
// concurrent use; one per relay.
type Client struct {
	opts    Options
	log     *slog.Logger
	http    doer
	metrics Metrics
	// readers keeps the event-stream readers of ended attempts (*events):
	// their 4 KB buffer was the largest allocation of an answer's own.
	readers sync.Pool
}

// New builds a Client. It does no I/O and cannot fail today; the error
// is kept for options that may.
func New(opts Options) (*Client, error) {
	opts = opts.withDefaults()
	return &Client{opts: opts, log: opts.Logger, http: newDoer(opts), metrics: opts.Metrics}, nil
}

// Close releases idle upstream connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }
