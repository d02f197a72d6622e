package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/nats-io/nats.go/jetstream"
)

// Erasure in JetStream (docs/privacy.md has the long form).
//
// A removed message's bytes stay in its stream's block file until the block
// is compacted or dropped, and JetStream never compacts the block it is
// writing; so removing is not erasing. SecureDeleteMsg is: it overwrites
// the stored record with random bytes, on every replica (the delete goes
// through the stream's Raft group with erase on). Messages of
// conversations are erased that way.
//
// Key-value buckets are streams too, but JetStream makes them with deletes
// of single messages denied (a setting that can never be lifted), and each
// update of a key drops its old revision by the stream's per-subject limit
// (a plain removal): every earlier revision of a conversation record (its
// preview is the newest message's text) or visitor record (traits) would
// stay in the file. So the buckets that hold personal data — conversations,
// visitors, accounts, usernames — are made here by hand with the layout of
// a key-value bucket, deletes allowed and no practical per-subject limit;
// the superseded revision of each update is erased in the background
// (trimmer), and erasure erases every revision still stored. The other
// buckets hold ids and hashes only and are purged.

// erasableHistory is the per-subject limit of an erasable bucket: never
// reached while the trimmer keeps up (a key holds one or two revisions),
// and at least one (the key-value client requires it).
const erasableHistory = 1 << 20

// trimQueue bounds the superseded revisions waiting for the trimmer. When
// it is full one is left stored: storage, not privacy, since erasure finds
// every stored revision.
const trimQueue = 4096

func erasableBucketConfig(name string, replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              "KV_" + name,
		Description:       "Kefu: key-value entries with personal data (erasable)",
		Subjects:          []string{"$KV." + name + ".>"},
		MaxMsgsPerSubject: erasableHistory,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxMsgSize:        -1,
		MaxConsumers:      -1,
		Storage:           jetstream.FileStorage,
		Replicas:          replicas,
		Discard:           jetstream.DiscardNew,
		AllowRollup:       true,
		DenyDelete:        false,
		Duplicates:        2 * time.Minute,
		AllowDirect:       false,
	}
}

// bindErasable notes the stream of an erasable bucket. A bucket made by an
// earlier kefu with deletes denied still works; its entries are purged,
// not erased (logged once at start).
func (s *Store) bindErasable(ctx context.Context, kv jetstream.KeyValue) error {
	st, err := s.js.Stream(ctx, "KV_"+kv.Bucket())
	if err != nil {
		return fmt.Errorf("store: jetstream: bucket %s: %w", kv.Bucket(), err)
	}
	if st.CachedInfo().Config.DenyDelete {
		s.opts.Logger.Warn("jetstream: bucket made by an earlier kefu denies deletes: its old entries are purged, not erased (docs/privacy.md)", "bucket", kv.Bucket())
		return nil
	}
	s.erasable[kv.Bucket()] = st
	return nil
}

// trim is a superseded revision of an erasable entry.
type trim struct {
	st  jetstream.Stream
	seq uint64
}

// superseded hands the revision an update replaced to the trimmer.
func (s *Store) superseded(kv jetstream.KeyValue, rev uint64) {
	st, ok := s.erasable[kv.Bucket()]
	if !ok || rev == 0 {
		return
	}
	s.trimPending.Add(1)
	select {
	case s.trims <- trim{st: st, seq: rev}:
	default:
		s.trimPending.Add(-1)
		s.opts.Logger.Debug("jetstream: trim queue full; a superseded revision stays until erasure", "bucket", kv.Bucket(), "seq", rev)
	}
}

// trimmer erases superseded revisions until Close.
func (s *Store) trimmer() {
	defer close(s.trimDone)
	for t := range s.trims {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
		if err := t.st.SecureDeleteMsg(ctx, t.seq); err != nil && !gone(ctx, t.st, t.seq, err) {
			s.opts.Logger.Debug("jetstream: erase a superseded revision", "stream", t.st.CachedInfo().Config.Name, "seq", t.seq, "err", err)
		}
		cancel()
		s.trimPending.Add(-1)
	}
}

// gone reports an erase that failed because the message is no longer
// there. The trimmer and an erasure can race for the same superseded
// revision; the loser's delete fails with a generic "delete failed" code
// (10043, "sequence N not found"), not "message not found", so when the
// code does not say, the stream is asked whether seq is still stored.
func gone(ctx context.Context, st jetstream.Stream, seq uint64, err error) bool {
	var apiErr *jetstream.APIError
	if errors.Is(err, jetstream.ErrMsgNotFound) ||
		(errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeMessageNotFound) {
		return true
	}
	_, getErr := st.GetMsg(ctx, seq)
	return errors.Is(getErr, jetstream.ErrMsgNotFound)
}

// Visitors returns the visitors keep accepts (all when keep is nil), read
// from the bucket's leader like Conversations.
func (s *Store) Visitors(keep func(*store.Visitor) bool) ([]store.Visitor, error) {
	ctx, cancel := s.readCtx()
	defer cancel()
	var out []store.Visitor
	err := s.scan(ctx, s.visitors, func(_ string, data []byte) error {
		var v store.Visitor
		if err := json.Unmarshal(data, &v); err != nil {
			return fmt.Errorf("decode visitor: %w", err)
		}
		if keep == nil || keep(&v) {
			out = append(out, v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: visitors: %w", err)
	}
	return out, nil
}

// DeleteConversations erases conversations: their messages, client-id and
// seq-index entries, then the record, so a crash part-way leaves the
// record to be found and erased again. It returns how many records
// existed. Ids that do not exist are skipped.
func (s *Store) DeleteConversations(ctx context.Context, ids []string) (int, error) {
	end, err := s.begin()
	if err != nil {
		return 0, fmt.Errorf("store: delete conversations: %w", err)
	}
	defer end()
	n := 0
	for _, id := range ids {
		if !validID(id) {
			continue
		}
		existed, err := s.deleteConversation(ctx, id)
		if err != nil {
			return n, fmt.Errorf("store: delete conversation %s: %w", id, err)
		}
		if existed {
			n++
		}
	}
	return n, nil
}

func (s *Store) deleteConversation(ctx context.Context, id string) (bool, error) {
	unlock := s.lockConv(id)
	defer unlock()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	if _, err := s.eraseAll(ctx, s.msgs, s.convSubject(id)); err != nil {
		return false, fmt.Errorf("messages: %w", err)
	}
	if _, err := s.eraseAll(ctx, s.msgs, s.evtSubject(id)); err != nil {
		return false, fmt.Errorf("events: %w", err)
	}
	if _, err := s.eraseKey(ctx, s.pending, id); err != nil {
		return false, err
	}
	for _, kv := range []jetstream.KeyValue{s.clientID, s.seqIdx} {
		if _, err := s.eraseKey(ctx, kv, id+".>"); err != nil {
			return false, err
		}
	}
	if _, err := s.deleteFiles(ctx, []string{id}); err != nil {
		return false, fmt.Errorf("files: %w", err)
	}
	if _, err := s.eraseKey(ctx, s.notes, id); err != nil {
		return false, fmt.Errorf("notes: %w", err)
	}
	return s.eraseKey(ctx, s.convs, id)
}

// DeleteVisitors erases visitors and every token naming them (found by
// one scan of the token bucket), tokens first: a visitor nobody can sign
// in as is harmless, and the record stays to be found again if the
// process dies in between. Their conversations are not touched; delete
// those first. It returns how many visitor records existed.
func (s *Store) DeleteVisitors(ctx context.Context, ids []string) (int, error) {
	end, err := s.begin()
	if err != nil {
		return 0, fmt.Errorf("store: delete visitors: %w", err)
	}
	defer end()
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		if validID(id) {
			want[id] = true
		}
	}
	if len(want) == 0 {
		return 0, nil
	}
	sctx, cancel := s.readCtx()
	var tokens []string
	err = s.scan(sctx, s.tokens, func(key string, value []byte) error {
		if want[string(value)] {
			tokens = append(tokens, key)
		}
		return nil
	})
	cancel()
	if err != nil {
		return 0, fmt.Errorf("store: delete visitors: %w", err)
	}
	wctx, cancel := s.writeCtx(ctx)
	defer cancel()
	for _, k := range tokens {
		if _, err := s.eraseKey(wctx, s.tokens, k); err != nil {
			return 0, fmt.Errorf("store: delete visitors: token: %w", err)
		}
	}
	n := 0
	for id := range want {
		// Identity entries first: a crash part-way leaves the visitor to
		// be erased again, never an entry naming it.
		var v store.Visitor
		if _, err := getJSON(wctx, s.visitors, id, &v); err == nil {
			if err := s.dropIdentities(wctx, store.IdentityKeys(&v), id); err != nil {
				return n, fmt.Errorf("store: delete visitor %s: %w", id, err)
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return n, fmt.Errorf("store: delete visitor %s: %w", id, err)
		}
		existed, err := s.eraseKey(wctx, s.visitors, id)
		if err != nil {
			return n, fmt.Errorf("store: delete visitor %s: %w", id, err)
		}
		if existed {
			n++
		}
	}
	return n, nil
}

func kvSubject(kv jetstream.KeyValue, key string) string { return "$KV." + kv.Bucket() + "." + key }

// eraseKey erases every stored revision of a key (a wildcard pattern is
// fine) of an erasable bucket, or purges them from another; it reports
// whether there was any.
func (s *Store) eraseKey(ctx context.Context, kv jetstream.KeyValue, key string) (bool, error) {
	if st, ok := s.erasable[kv.Bucket()]; ok {
		n, err := s.eraseAll(ctx, st, kvSubject(kv, key))
		if err != nil {
			return false, fmt.Errorf("bucket %s: %w", kv.Bucket(), err)
		}
		return n > 0, nil
	}
	st, err := s.js.Stream(ctx, "KV_"+kv.Bucket())
	if err != nil {
		return false, fmt.Errorf("bucket %s: %w", kv.Bucket(), err)
	}
	_, err = st.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(kvSubject(kv, key)))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("bucket %s: %w", kv.Bucket(), err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(kvSubject(kv, key))); err != nil {
		return false, fmt.Errorf("bucket %s: purge: %w", kv.Bucket(), err)
	}
	return true, nil
}

// eraseAll finds each next message on subject (a wildcard is fine) from
// the stream's leader and erases it, until none is left.
func (s *Store) eraseAll(ctx context.Context, st jetstream.Stream, subject string) (int, error) {
	n := 0
	for seq := uint64(1); ; {
		raw, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("find %s: %w", subject, err)
		}
		if err := st.SecureDeleteMsg(ctx, raw.Sequence); err != nil && !gone(ctx, st, raw.Sequence, err) {
			return n, fmt.Errorf("erase %s #%d: %w", subject, raw.Sequence, err)
		}
		n++
		seq = raw.Sequence + 1
	}
}
