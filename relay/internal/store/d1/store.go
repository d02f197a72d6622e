// Package d1 keeps visitors, conversations, messages and settings in
// Cloudflare D1 (SQLite at the edge), for the edge build that runs the
// relay's handlers on Workers. It keeps the boltdb backend's semantics:
// contiguous seqs from 1, idempotent appends by client id, a visitor
// message reopening a closed conversation, the conversation's counters
// updated with each message, and an OnAppend hook after every append that
// stored something.
//
// D1 has no interactive transactions: every guarantee comes from one
// statement at a time (see migrations/0001_init.sql and queries.go) and
// compare-and-set updates retried on conflict (retry.go).
//
// Everything but Open builds on every platform, over a small DB interface
// (db.go), so the logic is tested on linux over SQLite; Open (js/wasm only)
// binds the Worker's D1 database to it directly (db_js.go), without
// database/sql.
package d1

import (
	"log/slog"
	"sync"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// Options configure a Store. Zero values take the documented defaults.
type Options struct {
	// OnAppend is called after each Append that stored at least one new
	// message, in the order this Store's appends were made. It must not
	// block: it is how stored messages reach the live streams (the hub).
	OnAppend func(store.Appended)
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives retried conflicts. Default discards.
	Logger *slog.Logger
	// Attempts bounds the tries of a write that meets a concurrent one.
	// Default DefaultAttempts.
	Attempts int
	// Backoff is the first pause between tries. Default DefaultBackoff.
	Backoff time.Duration
	// SettingsOnFirstRead makes the first read of a settings document
	// read them all (LoadSettings): for a store that lives one request,
	// as on Workers, where most requests (health checks, the widget's
	// files) read none and should not wait for the database.
	SettingsOnFirstRead bool
}

// Store is the edge's database.
type Store struct {
	db   DB
	opts Options

	// appendMu orders this Store's appends with their OnAppend calls, so
	// the hub publishes a conversation's messages in seq order.
	appendMu sync.Mutex

	// settings, once LoadSettings ran, holds every settings document; nil
	// means read each from the database.
	settingsMu sync.RWMutex
	settings   map[string][]byte

	// own counts this store's settings writes for SettingsMoved.
	own ownWrites
}

// New returns a store over db; it does no I/O. The schema comes from
// migrations/, applied by wrangler.
func New(db DB, opts Options) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	return &Store{db: db, opts: opts}
}

// now is the clock at the precision stored, so what an append returns
// equals what a later read finds.
func (s *Store) now() time.Time { return fromMillis(toMillis(s.opts.Now())) }
