package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/nats-io/nats.go/jetstream"
)

// Messages returns up to limit messages of a conversation with seq > after,
// in seq order; limit <= 0 means all. It reads the conversation's subject
// only, starting from the seq index entry of the block holding after+1 (at
// most seqBlock-1 messages early), never scanning other conversations, and
// stops at the newest message acknowledged to its writer. Each message is
// one request to the stream leader (readSubject says why).
func (s *Store) Messages(convID string, after uint64, limit int) ([]store.Message, error) {
	ctx, cancel := s.readCtx()
	defer cancel()
	r, _, err := s.getRecord(ctx, convID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: messages of %s: %w", convID, err)
	}
	if after >= r.LastSeq {
		return nil, nil
	}
	last := r.LastSeq
	if limit > 0 && after+uint64(limit) < last {
		last = after + uint64(limit)
	}
	start, err := s.startOf(ctx, convID, after+1)
	if err != nil {
		return nil, fmt.Errorf("store: messages of %s: %w", convID, err)
	}
	out := make([]store.Message, 0, last-after)
	err = s.readSubject(ctx, s.convSubject(convID), start, func(m store.Message, _ uint64) bool {
		if m.Seq > after {
			out = append(out, m)
		}
		return m.Seq < last
	})
	if err != nil {
		return nil, fmt.Errorf("store: messages of %s: %w", convID, err)
	}
	return out, nil
}

// startOf is the stream sequence to read a conversation from to meet seq:
// its block's index entry, an earlier block's when that one is missing (a
// writer died before writing it), or the stream's start.
func (s *Store) startOf(ctx context.Context, convID string, seq uint64) (uint64, error) {
	for tries := 0; tries < 3 && seq >= 1; tries++ {
		e, err := s.seqIdx.Get(ctx, seqIndexKey(convID, seq))
		if err == nil {
			n, err := strconv.ParseUint(string(e.Value()), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("seq index of %s: %w", convID, err)
			}
			return n, nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return 0, fmt.Errorf("seq index of %s: %w", convID, err)
		}
		if seq <= seqBlock {
			break
		}
		seq -= seqBlock
	}
	return 1, nil
}

// readSubject delivers the messages of one subject from stream sequence
// start on, in order, while fn returns true, asking the stream leader for
// each next message of the subject (the stream's per-subject index finds
// it without scanning other conversations). Not a consumer: JetStream may
// place a consumer on a follower that is a moment behind, and a resume
// read must see every message acknowledged to its writer.
func (s *Store) readSubject(ctx context.Context, subject string, start uint64, fn func(store.Message, uint64) bool) error {
	for seq := start; ; {
		raw, err := s.msgs.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("read %s: no message after stream sequence %d, though the conversation records more", subject, seq-1)
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", subject, err)
		}
		var m store.Message
		if err := json.Unmarshal(raw.Data, &m); err != nil {
			return fmt.Errorf("read %s: decode message %d: %w", subject, raw.Sequence, err)
		}
		if !fn(m, raw.Sequence) {
			return nil
		}
		seq = raw.Sequence + 1
	}
}

// dropConsumer deletes a finished read's consumer now rather than leave it
// to the server's inactivity timer.
func (s *Store) dropConsumer(cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	if err := s.msgs.DeleteConsumer(ctx, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		s.opts.Logger.Debug("jetstream: drop a read's consumer", "consumer", info.Name, "err", err)
	}
}

// Follow calls fn with every message any node stores from now on (after
// is 0) or after stream sequence after, in stream order — which is seq
// order within each conversation — until ctx ends. It is how a node learns
// of messages other nodes stored (the multi-node fan-out). fn gets the
// message and its stream sequence, to resume from after a restart; it must
// not block for long. Follow returns ctx's error, or why it could not go on.
func (s *Store) Follow(ctx context.Context, after uint64, fn func(m store.Message, streamSeq uint64)) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{s.subject + ">"}, DeliverPolicy: jetstream.DeliverNewPolicy}
	if after > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	}
	cons, err := s.msgs.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("store: follow: %w", err)
	}
	defer s.dropConsumer(cons)
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("store: follow: %w", err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("store: follow: %w", err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("store: follow: %w", err)
		}
		var m store.Message
		if err := json.Unmarshal(msg.Data(), &m); err != nil {
			return fmt.Errorf("store: follow: decode message %d: %w", meta.Sequence.Stream, err)
		}
		fn(m, meta.Sequence.Stream)
	}
}
