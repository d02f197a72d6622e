// Package jetstream keeps Kefu's data in NATS JetStream, for a relay that
// runs on several nodes: messages in one stream (one subject per
// conversation), everything else in key-value buckets, all replicated by
// JetStream's Raft groups (3 replicas in a cluster of three or more).
//
// The store is driven by a *nats.Conn the wiring hands in (an embedded
// server's or an external cluster's); it never dials or closes it. Every
// write returns only after JetStream acknowledged it, which for a
// replicated stream means a quorum of its replicas stored it
// (docs/cluster.md says exactly what that guarantees on disk).
//
// How seqs stay contiguous and client ids idempotent for a conversation's
// whole life while several nodes append at once is in messages.go and
// docs/cluster.md.
package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options configure Open. Zero values take the documented defaults.
type Options struct {
	// Prefix names the stream, subjects and buckets, so several Kefu
	// installations can share one NATS account. Default "kefu"; lower-case
	// letters, digits, "-" and "_".
	Prefix string
	// Replicas of the stream and every bucket. Default 0: what an existing
	// store has, else 3 on a cluster that can place three copies, else 1.
	// A value above the cluster's size fails Open.
	Replicas int
	// OnAppend is called after each Append on this Store that stored new
	// messages, in seq order per conversation. It must not block. It sees
	// this node's appends only: Follow delivers every node's.
	OnAppend func(store.Appended)
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives retried conflicts and repairs. Default discards.
	Logger *slog.Logger
	// Timeout bounds one operation that has no deadline of its own
	// (reads take no context). Default 10s: longer than a leader election.
	Timeout time.Duration
}

// DefaultTimeout bounds an operation without a deadline of its own: a
// JetStream leader election takes a few seconds, and an operation should
// ride one out rather than fail.
const DefaultTimeout = 10 * time.Second

// Store is Kefu's data in JetStream.
type Store struct {
	autoReplicas bool // Options.Replicas was 0: chosen by Open
	nc           *nats.Conn
	js           jetstream.JetStream
	opts         Options

	msgs     jetstream.Stream
	subject  string // the messages stream's subject prefix, "kefu.msg."
	convs    jetstream.KeyValue
	clientID jetstream.KeyValue
	seqIdx   jetstream.KeyValue
	visitors jetstream.KeyValue
	tokens   jetstream.KeyValue
	// identities: visitors by identity (identity.go).
	identities jetstream.KeyValue
	accounts   jetstream.KeyValue
	users      jetstream.KeyValue
	sessions   jetstream.KeyValue
	settings   jetstream.KeyValue
	pending    jetstream.KeyValue // conversations whose records may hold events (events.go)
	docs       jetstream.KeyValue // the notifiers' documents (docs.go)
	blobs      jetstream.ObjectStore
	// consumerReadMin is consumerReadMin; 0 reads by gets only (the
	// benchmark compares both).
	consumerReadMin int
	consumerReads   atomic.Int64 // reads done by readByConsumer, for tests
	consumerIdle    time.Duration

	// Uploads, attachments and notes (files.go).
	uploads     jetstream.KeyValue
	uploadParts jetstream.KeyValue
	attachments jetstream.KeyValue
	notes       jetstream.KeyValue
	files       jetstream.ObjectStore
	filesStream jetstream.Stream // the object store's stream, for erasure

	// erasable maps the buckets that hold personal data to their streams,
	// made so their messages can be erased (erase.go); trims carries the
	// superseded revisions of their entries to the trimmer.
	erasable    map[string]jetstream.Stream
	trims       chan trim
	trimPending atomic.Int64
	trimDone    chan struct{}

	convLocks [64]sync.Mutex // orders this node's appends per conversation

	closeMu  sync.RWMutex // held for reading by writes in flight, for writing by Close
	isClosed bool
}

var prefixRE = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// Open creates (or binds to) the stream and buckets. It does not take
// ownership of nc.
func Open(ctx context.Context, nc *nats.Conn, opts Options) (*Store, error) {
	if opts.Prefix == "" {
		opts.Prefix = "kefu"
	}
	if !prefixRE.MatchString(opts.Prefix) {
		return nil, fmt.Errorf("store: jetstream prefix %q: use 1 to 32 lower-case letters, digits, - or _", opts.Prefix)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(opts.Timeout))
	if err != nil {
		return nil, fmt.Errorf("store: jetstream: %w", err)
	}
	auto := opts.Replicas <= 0
	if auto {
		if opts.Replicas, err = chooseReplicas(ctx, js, nc, opts.Prefix); err != nil {
			return nil, err
		}
	}
	s := &Store{autoReplicas: auto, nc: nc, js: js, opts: opts, subject: opts.Prefix + ".msg.", consumerReadMin: consumerReadMin, consumerIdle: consumerIdle, trims: make(chan trim, trimQueue), trimDone: make(chan struct{})}
	if err := s.setup(ctx); err != nil {
		return nil, err
	}
	go s.trimmer()
	return s, nil
}

// chooseReplicas is the replica count when none was given: the messages
// stream's when it exists, else 3 on a cluster (setup falls back to 1 when
// the cluster cannot place three copies), else 1. The connection's list of
// servers is not asked: right after connecting it may not name them all
// yet, and a three-server cluster got one copy of everything.
func chooseReplicas(ctx context.Context, js jetstream.JetStream, nc *nats.Conn, prefix string) (int, error) {
	st, err := js.Stream(ctx, StreamName(prefix))
	switch {
	case err == nil:
		return st.CachedInfo().Config.Replicas, nil
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return 0, fmt.Errorf("store: jetstream: stream %s: %w", StreamName(prefix), err)
	case nc.ConnectedClusterName() != "":
		return 3, nil
	}
	return 1, nil
}

// tooFewServers reports JetStream refusing a stream for want of servers to
// place its replicas on.
func tooFewServers(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == 10005 || apiErr.ErrorCode == 10023) // no suitable peers; insufficient resources
}

// StreamName is the messages stream's name for a prefix.
func StreamName(prefix string) string {
	return strings.ToUpper(strings.ReplaceAll(prefix, "-", "_")) + "_MESSAGES"
}

func (s *Store) setup(ctx context.Context) error {
	err := s.setupMessages(ctx)
	if err != nil && s.autoReplicas && s.opts.Replicas > 1 && tooFewServers(err) {
		s.opts.Logger.Info("jetstream: too few servers for three copies; one copy of each record", "err", err)
		s.opts.Replicas = 1
		err = s.setupMessages(ctx)
	}
	if err != nil {
		return err
	}
	return s.setupBuckets(ctx)
}

func (s *Store) setupMessages(ctx context.Context) error {
	p, r := s.opts.Prefix, s.opts.Replicas
	msgs, err := s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName(p),
		Description: "Kefu: every conversation's messages, one subject per conversation",
		// Messages, and the other events of the log (events.go).
		Subjects:  []string{s.subject + ">", p + ".evt.>"},
		Storage:   jetstream.FileStorage,
		Replicas:  r,
		Retention: jetstream.LimitsPolicy,
		Discard:   jetstream.DiscardOld,
		// Messages are kept for good; the duplicate window only helps a
		// publish retried after a lost ack (the stream's own checks keep
		// seqs and client ids right for a conversation's whole life).
		Duplicates: 2 * time.Minute,
		// Reads go to the stream leader, which has every acknowledged
		// message: a follower answering a direct get could be behind.
		AllowDirect: false,
	})
	if err != nil {
		return fmt.Errorf("store: jetstream: stream %s (replicas %d): %w", StreamName(p), r, err)
	}
	s.msgs = msgs
	return nil
}

func (s *Store) setupBuckets(ctx context.Context) error {
	p := s.opts.Prefix
	s.erasable = map[string]jetstream.Stream{}
	for _, b := range []struct {
		kv       *jetstream.KeyValue
		name     string
		erasable bool // holds personal data: see erase.go
	}{
		{&s.convs, "conversations", true},
		{&s.clientID, "clientids", false},
		{&s.seqIdx, "seqindex", false},
		{&s.visitors, "visitors", true},
		{&s.tokens, "tokens", false},
		{&s.identities, "identities", false},
		{&s.accounts, "accounts", true},
		{&s.users, "usernames", true},
		{&s.sessions, "sessions", false},
		{&s.settings, "settings", false},
		{&s.pending, "pending", false},
		{&s.docs, "docs", true},
		{&s.uploads, "uploads", true},
		{&s.uploadParts, "uploadparts", true},
		{&s.attachments, "attachments", true},
		{&s.notes, "notes", true},
	} {
		kv, err := s.bucket(ctx, p+"_"+b.name, b.erasable)
		if err != nil {
			return err
		}
		*b.kv = kv
		if b.erasable {
			if err := s.bindErasable(ctx, kv); err != nil {
				return err
			}
		}
	}
	obj, err := s.objectStore(ctx, p+"_blobs", "Kefu: settings documents too large for a key-value entry")
	if err != nil {
		return err
	}
	s.blobs = obj
	if s.files, err = s.objectStore(ctx, p+"_files", "Kefu: attachments of conversations"); err != nil {
		return err
	}
	if s.filesStream, err = s.js.Stream(ctx, "OBJ_"+p+"_files"); err != nil {
		return fmt.Errorf("store: jetstream: object store %s: %w", p+"_files", err)
	}
	if err := s.waitLeaders(ctx); err != nil {
		return err
	}
	return s.indexIdentities(ctx)
}

// waitLeaders returns once every stream the store writes to has a leader.
// Streams made a moment ago (a new cluster, or the first node of one)
// elect theirs now, and a write before that fails with "no response from
// stream": Open returns a store that can be written at once.
func (s *Store) waitLeaders(ctx context.Context) error {
	if s.opts.Replicas <= 1 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	names := []string{s.msgs.CachedInfo().Config.Name, "OBJ_" + s.opts.Prefix + "_blobs", "OBJ_" + s.opts.Prefix + "_files"}
	for _, kv := range []jetstream.KeyValue{s.convs, s.clientID, s.seqIdx, s.visitors, s.tokens, s.identities, s.accounts, s.users, s.sessions, s.settings, s.pending, s.docs, s.uploads, s.uploadParts, s.attachments, s.notes} {
		names = append(names, "KV_"+kv.Bucket())
	}
	for _, name := range names {
		for {
			st, err := s.js.Stream(ctx, name)
			if err == nil {
				if c := st.CachedInfo().Cluster; c == nil || c.Leader != "" {
					break
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("store: jetstream: stream %s has no leader after %s (last error: %v)", name, s.opts.Timeout, err)
			case <-time.After(100 * time.Millisecond): // polling the election
			}
		}
	}
	return nil
}

// bucket creates a key-value bucket unless it exists, and binds to it with
// reads through its leader (leaderReads). An erasable bucket is made by
// hand, as erase.go explains.
func (s *Store) bucket(ctx context.Context, name string, erasable bool) (jetstream.KeyValue, error) {
	_, err := s.js.KeyValue(ctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		if erasable {
			_, err = s.js.CreateStream(ctx, erasableBucketConfig(name, s.opts.Replicas))
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				err = nil
			}
		} else {
			// CreateOrUpdateKeyValue is not used: on an existing bucket it
			// would turn direct gets back on.
			_, err = s.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket: name, History: 1, Storage: jetstream.FileStorage, Replicas: s.opts.Replicas,
			})
		}
		if errors.Is(err, jetstream.ErrBucketExists) {
			err = nil // another node made it first
		}
	}
	if err != nil {
		return nil, fmt.Errorf("store: jetstream: bucket %s (replicas %d): %w", name, s.opts.Replicas, err)
	}
	var kv jetstream.KeyValue
	err = s.bindLeaderReads(ctx, "KV_"+name, func() (err error) { kv, err = s.js.KeyValue(ctx, name); return err })
	if err != nil {
		return nil, fmt.Errorf("store: jetstream: bucket %s: %w", name, err)
	}
	return kv, nil
}

func (s *Store) objectStore(ctx context.Context, name, description string) (jetstream.ObjectStore, error) {
	_, err := s.js.ObjectStore(ctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		_, err = s.js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket: name, Description: description,
			Storage: jetstream.FileStorage, Replicas: s.opts.Replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("store: jetstream: object store %s: %w", name, err)
	}
	var obj jetstream.ObjectStore
	err = s.bindLeaderReads(ctx, "OBJ_"+name, func() (err error) { obj, err = s.js.ObjectStore(ctx, name); return err })
	if err != nil {
		return nil, fmt.Errorf("store: jetstream: object store %s: %w", name, err)
	}
	return obj, nil
}

// bindLeaderReads turns off direct gets on a bucket's stream, sets its
// replicas, and binds to it. JetStream creates buckets with direct gets
// on, which lets any replica answer a read, and a follower may not yet
// have what was just acknowledged: a conversation read on one node right
// after a write on another could miss it. Reads through the leader see
// every acknowledged write. The client decides how to read when it binds,
// so bind runs after the change; it is retried if another node starting
// at the same moment turned direct gets back on (creating the bucket).
func (s *Store) bindLeaderReads(ctx context.Context, stream string, bind func() error) error {
	for range 5 {
		st, err := s.js.Stream(ctx, stream)
		if err != nil {
			return err
		}
		cfg := st.CachedInfo().Config
		if cfg.AllowDirect || cfg.Replicas != s.opts.Replicas {
			cfg.AllowDirect, cfg.Replicas = false, s.opts.Replicas
			if _, err := s.js.UpdateStream(ctx, cfg); err != nil {
				return fmt.Errorf("read through the leader, %d replicas: %w", s.opts.Replicas, err)
			}
		}
		if err := bind(); err != nil {
			return err
		}
		st, err = s.js.Stream(ctx, stream)
		if err != nil {
			return err
		}
		if !st.CachedInfo().Config.AllowDirect {
			return nil
		}
	}
	return fmt.Errorf("direct gets keep being turned on (another node on an older kefu?)")
}

// Replicas is the replica count the stream and buckets were made with.
func (s *Store) Replicas() int { return s.opts.Replicas }

// Close waits for writes in flight and refuses new ones. It leaves the
// connection open: the wiring owns it.
func (s *Store) Close() error {
	s.closeMu.Lock()
	wasClosed := s.isClosed
	s.isClosed = true
	s.closeMu.Unlock()
	if !wasClosed {
		close(s.trims)
		<-s.trimDone
	}
	return nil
}

// begin admits a write, or refuses it once the store is closed. The caller
// runs end when the write is done.
func (s *Store) begin() (end func(), err error) {
	s.closeMu.RLock()
	if s.isClosed {
		s.closeMu.RUnlock()
		return nil, store.ErrClosed
	}
	return s.closeMu.RUnlock, nil
}

// readCtx bounds a read that has no context of its own.
func (s *Store) readCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opts.Timeout)
}

// writeCtx bounds a write by the caller's context and the store's timeout.
func (s *Store) writeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.Timeout)
}

// notFound maps JetStream's "no such key/message" to store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrMsgNotFound) {
		return store.ErrNotFound
	}
	return err
}

// conflict reports whether err is a compare-and-set that lost: a key
// revision or a subject's last sequence that moved.
func conflict(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return errors.Is(err, jetstream.ErrKeyExists)
}

// lockConv serialises this node's appends to one conversation, so its
// OnAppend calls come in seq order. Other nodes are kept in line by the
// stream itself (messages.go).
func (s *Store) lockConv(convID string) func() {
	var h uint32 = 2166136261
	for i := 0; i < len(convID); i++ {
		h = (h ^ uint32(convID[i])) * 16777619
	}
	m := &s.convLocks[h%uint32(len(s.convLocks))]
	m.Lock()
	return m.Unlock
}
