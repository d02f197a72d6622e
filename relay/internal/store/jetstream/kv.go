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

// getJSON reads a key into v and returns its revision.
func getJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) (uint64, error) {
	if !validKey(key) {
		return 0, store.ErrNotFound
	}
	e, err := kv.Get(ctx, key)
	if err != nil {
		return 0, notFound(err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return e.Revision(), nil
}

// createJSON stores v under a key that must not exist yet.
func createJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	if _, err := kv.Create(ctx, key, data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("%s: %w", key, store.ErrExists)
		}
		return fmt.Errorf("create %s: %w", key, err)
	}
	return nil
}

// validKey keeps caller-given ids (from URLs) out of key syntax.
func validKey(key string) bool { return validID(key) || isHex(key) }

func isHex(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// maxUpdateRounds bounds the compare-and-set retries of one update: each
// lost round means another write won, so only a storm exhausts it.
const maxUpdateRounds = 50

// update reads a key, lets change compute its new value, and writes it if
// the key is still at the revision read; otherwise it tries again. An error
// from change aborts.
func (s *Store) update(ctx context.Context, kv jetstream.KeyValue, key string, change func([]byte) ([]byte, error)) error {
	end, err := s.begin()
	if err != nil {
		return err
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	if !validKey(key) {
		return store.ErrNotFound
	}
	for range maxUpdateRounds {
		e, err := kv.Get(ctx, key)
		if err != nil {
			return notFound(err)
		}
		data, err := change(e.Value())
		if err != nil {
			return err
		}
		_, err = kv.Update(ctx, key, data, e.Revision())
		if conflict(err) {
			s.opts.Logger.Debug("jetstream: update met a concurrent one; retrying", "bucket", kv.Bucket(), "key", key)
			continue
		}
		if err == nil {
			s.superseded(kv, e.Revision())
		}
		return err
	}
	return fmt.Errorf("gave up after %d concurrent changes", maxUpdateRounds)
}

// scan calls fn with every live key and value of a bucket, as of the start
// of the scan. The watcher that delivers them is a consumer JetStream may
// place on a follower a moment behind; so the bucket's newest stored
// message is asked of its leader first, and the scan goes on until it has
// seen it. (Not the stream's last sequence: that may be a message erased
// since, which no watcher delivers.)
func (s *Store) scan(ctx context.Context, kv jetstream.KeyValue, fn func(key string, value []byte) error) error {
	return s.scanFiltered(ctx, kv, jetstream.AllKeys, fn)
}

// scanFiltered is scan for the keys matching filter (a key with
// wildcards).
func (s *Store) scanFiltered(ctx context.Context, kv jetstream.KeyValue, filter string, fn func(key string, value []byte) error) error {
	st, err := s.js.Stream(ctx, "KV_"+kv.Bucket())
	if err != nil {
		return fmt.Errorf("scan %s: %w", kv.Bucket(), err)
	}
	subject := kvSubject(kv, filter)
	last, err := newestSeq(ctx, st, subject)
	if err != nil || last == 0 {
		return wrapScan(kv, err)
	}
	w, err := kv.Watch(ctx, filter)
	if err != nil {
		return fmt.Errorf("scan %s: %w", kv.Bucket(), err)
	}
	defer w.Stop()
	// A watcher behind the leader starts from older values and then sees
	// the changes since: the same key can come more than once, or be
	// deleted after it came. Newest wins, in the order keys first came.
	var order []string
	values := map[string][]byte{}
	live := map[string]bool{}
	err = follow(ctx, st, subject, last, w, func(e jetstream.KeyValueEntry) error {
		if _, seen := live[e.Key()]; !seen {
			order = append(order, e.Key())
		}
		values[e.Key()] = e.Value()
		live[e.Key()] = e.Operation() == jetstream.KeyValuePut
		return nil
	})
	if err != nil {
		return wrapScan(kv, err)
	}
	for _, k := range order {
		if live[k] {
			if err := fn(k, values[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

// scanRecheck is how often a scan that has not reached the newest
// revision it was told of asks for the newest again. An erasure deletes
// messages without leaving a marker (erase.go): had it taken that one,
// the watcher would never deliver it, and the scan would wait for its
// context to end.
const scanRecheck = 250 * time.Millisecond

// follow passes the entries w delivers to each until one at or past last
// (the newest message on subject when the scan began, or the newest now
// if that one was erased meanwhile) has come.
func follow(ctx context.Context, st jetstream.Stream, subject string, last uint64, w jetstream.KeyWatcher, each func(jetstream.KeyValueEntry) error) error {
	recheck := time.NewTicker(scanRecheck)
	defer recheck.Stop()
	var seen uint64 // the newest revision delivered
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watcher closed")
			}
			if e == nil {
				continue // the watcher's own "caught up" may come early on a follower
			}
			if err := each(e); err != nil {
				return err
			}
			if seen = max(seen, e.Revision()); seen >= last {
				return nil
			}
		case <-recheck.C:
			now, err := newestSeq(ctx, st, subject)
			if err != nil {
				return err
			}
			if now <= seen {
				return nil // last is gone, and nothing newer came
			}
			last = min(last, now)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// newestSeq is the sequence of the newest message on subject, 0 if none.
func newestSeq(ctx context.Context, st jetstream.Stream, subject string) (uint64, error) {
	m, err := st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return m.Sequence, nil
}

func wrapScan(kv jetstream.KeyValue, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("scan %s: %w", kv.Bucket(), err)
}
