package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kefuhq/kefu/relay/internal/mail"
	"github.com/kefuhq/kefu/relay/internal/notify"
	"github.com/kefuhq/kefu/relay/internal/push"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream"
	"github.com/kefuhq/kefu/relay/internal/webhook"
)

// The event log does not move. Its positions are the old store's own (a
// bbolt counter; JetStream's are stream sequences), and the messages a
// run imports are stored again as new entries of the cluster's log. So
// the readers of the log (webhooks, push, mail) start in the cluster
// where its log ends after the move, and what the single node's readers
// had not handled yet is not sent from the cluster: a run refuses while
// there is any, unless told to drop it. What waits outside the log goes
// as it is: the mail outbox, the keys in every unsubscribe link and in
// the inbound address, push subscriptions, webhook delivery logs.

// ErrPending means the single node had not handled every event yet.
var ErrPending = errors.New("the single node had not handled every event yet")

// reader is an event log reader of the single node and its position.
type reader struct {
	kind, key string
	pos       uint64
}

func (r reader) name() string {
	if r.kind == mail.DocKindState {
		return "mail"
	}
	return r.key
}

// doc builds the reader's document at pos, in its owner's format.
func (r reader) doc(pos uint64) []byte {
	if r.kind == mail.DocKindState {
		return mail.CursorDoc(pos)
	}
	b, _ := json.Marshal(notify.Cursor{Pos: pos}) // a struct of one integer
	return b
}

// readers lists the single node's event log readers.
func readers(src *boltdb.Store) ([]reader, error) {
	docs, err := src.Docs(notify.KindCursor)
	if err != nil {
		return nil, fmt.Errorf("migrate: readers: %w", err)
	}
	var out []reader
	for _, d := range docs {
		var c notify.Cursor
		if err := json.Unmarshal(d.Data, &c); err != nil {
			return nil, fmt.Errorf("migrate: reader %s: %w", d.Key, err)
		}
		out = append(out, reader{kind: notify.KindCursor, key: d.Key, pos: c.Pos})
	}
	d, err := src.Doc(mail.DocKindState, mail.KeyCursor)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("migrate: mail reader: %w", err)
	default:
		pos, err := mail.CursorPos(d.Data)
		if err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		out = append(out, reader{kind: mail.DocKindState, key: mail.KeyCursor, pos: pos})
	}
	return out, nil
}

// pending says, per reader, what it had not handled yet ("" when nothing).
func pending(ctx context.Context, src *boltdb.Store, rs []reader) (string, error) {
	var lines []string
	for _, r := range rs {
		n, first := 0, ""
		for pos := r.pos; ; {
			evs, last, err := src.Events(ctx, pos, 1000)
			if err != nil {
				return "", fmt.Errorf("migrate: events after reader %s: %w", r.name(), err)
			}
			if first == "" && len(evs) > 0 {
				first = evs[0].Type + " " + evs[0].ID
			}
			n += len(evs)
			if last == pos {
				break
			}
			pos = last
		}
		if n > 0 {
			lines = append(lines, fmt.Sprintf("%s: %d events not handled yet (the first: %s)", r.name(), n, first))
		}
	}
	return strings.Join(lines, "; "), nil
}

// carryDocs copies the documents that hold no position in the event log,
// and the webhook delivery states without theirs. A document already in
// dst stays as it is (a run again changes nothing).
func carryDocs(ctx context.Context, src *boltdb.Store, dst *jetstream.Store) (int, error) {
	type kind struct {
		name string
		conv func(key string, data []byte) ([]byte, bool, error)
	}
	as := func(_ string, data []byte) ([]byte, bool, error) { return data, true, nil }
	kinds := []kind{
		{mail.DocKindJob, as},
		{mail.DocKindState, func(key string, data []byte) ([]byte, bool, error) {
			return data, key != mail.KeyCursor, nil
		}},
		{push.DocKindSub, as},
		{store.DocTags, as},
		{webhook.DocKindLog, as},
		{webhook.DocKindState, func(_ string, data []byte) ([]byte, bool, error) {
			out, _, err := webhook.StateForNewLog(data)
			return out, err == nil, err
		}},
	}
	n := 0
	for _, k := range kinds {
		docs, err := src.Docs(k.name)
		if err != nil {
			return n, fmt.Errorf("migrate: documents %s: %w", k.name, err)
		}
		for _, d := range docs {
			data, ok, err := k.conv(d.Key, d.Data)
			if err != nil {
				return n, fmt.Errorf("migrate: document %s/%s: %w", k.name, d.Key, err)
			}
			if !ok {
				continue
			}
			if _, err := dst.PutDoc(ctx, k.name, d.Key, data, 0); err != nil && !errors.Is(err, store.ErrExists) {
				return n, fmt.Errorf("migrate: document %s/%s: %w", k.name, d.Key, err)
			}
			n++
		}
	}
	return n, nil
}

// startReaders gives every reader the single node had a position at the
// end of dst's log, where none is yet: the moved messages are not news,
// and a reader that is not running now (a paused webhook URL) still gets
// every event after the move.
func startReaders(ctx context.Context, dst *jetstream.Store, rs []reader) error {
	end, err := dst.LastEventPos(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range rs {
		if _, err := dst.PutDoc(ctx, r.kind, r.key, r.doc(end), 0); err != nil && !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("migrate: reader %s: %w", r.name(), err)
		}
	}
	return nil
}
