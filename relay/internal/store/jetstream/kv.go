package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
	st, err := s.js.Stream(ctx, "KV_"+kv.Bucket())
	if err != nil {
		return fmt.Errorf("scan %s: %w", kv.Bucket(), err)
	}
	newest, err := st.GetLastMsgForSubject(ctx, "$KV."+kv.Bucket()+".>")
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("scan %s: %w", kv.Bucket(), err)
	}
	last := newest.Sequence
	w, err := kv.WatchAll(ctx)
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
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("scan %s: watcher closed", kv.Bucket())
			}
			if e == nil {
				continue // the watcher's own "caught up" may come early on a follower
			}
			if _, seen := live[e.Key()]; !seen {
				order = append(order, e.Key())
			}
			values[e.Key()] = e.Value()
			live[e.Key()] = e.Operation() == jetstream.KeyValuePut
			if e.Revision() < last {
				continue
			}
			for _, k := range order {
				if live[k] {
					if err := fn(k, values[k]); err != nil {
						return err
					}
				}
			}
			return nil
		case <-ctx.Done():
			return fmt.Errorf("scan %s: %w", kv.Bucket(), ctx.Err())
		}
	}
}
