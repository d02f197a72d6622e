package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/nats-io/nats.go/jetstream"
)

// Messages returns up to limit messages of a conversation with seq > after,
// in seq order; limit <= 0 means all. It reads the conversation's subject
// only, starting from the seq index entry of the block holding after+1 (at
// most seqBlock-1 messages early), never scanning other conversations, and
// stops at the newest stored message (see ahead). A short read (the usual
// resume after a reconnect) is one request to the stream leader per
// message (readSubject says why); a long one goes through one ordered
// consumer bounded by the leader's last seq (readByConsumer).
func (s *Store) Messages(convID string, after uint64, limit int) ([]store.Message, error) {
	ctx, cancel := s.readCtx()
	defer cancel()
	r, _, err := s.getRecord(ctx, convID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err == nil {
		err = s.ahead(ctx, &r)
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
	subject := s.convSubject(convID)
	if s.consumerReadMin > 0 && last-after >= uint64(s.consumerReadMin) {
		got, next, err := s.readByConsumer(ctx, subject, start, after, last, func(m store.Message) { out = append(out, m) })
		if err == nil {
			return out, nil
		}
		// The gets below go on from where the consumer stopped.
		s.opts.Logger.Debug("jetstream: a long read goes on by gets", "conversation", convID, "at", got, "err", err)
		after, start = got, next
	}
	err = s.readSubject(ctx, subject, start, func(m store.Message, _ uint64) bool {
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

// consumerReadMin is the length of read from which Messages uses one
// consumer instead of one get per message: creating a consumer is a few
// requests (one goes through JetStream's meta group), so short reads are
// cheaper by gets, and a replay of a long history is a handful of
// requests instead of one per message (docs/benchmarks.md).
const consumerReadMin = 64

// consumerIdle is how long a long read waits for the consumer's next
// message before gets take over: a replica far behind (a node catching up
// after a restart) must not hold the read until its deadline, which the
// gets need.
const consumerIdle = 3 * time.Second

// readByConsumer delivers the messages of subject with seqs after+1..last
// in order, through an ordered consumer from stream sequence start. A
// consumer may be served by a replica a moment behind the leader, which
// gets avoid (readSubject); here the range is known — last came from the
// leader — so it waits for each seq instead of stopping short, and checks
// that every message is the next seq. It returns the last seq it
// delivered and the stream sequence after it (start if none), so a caller
// can go on by gets after an error.
func (s *Store) readByConsumer(ctx context.Context, subject string, start, after, last uint64, fn func(store.Message)) (got, next uint64, err error) {
	got, next = after, start
	cons, err := s.msgs.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject},
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: start})
	if err != nil {
		return got, next, fmt.Errorf("read %s: %w", subject, err)
	}
	defer s.dropConsumer(cons)
	it, err := cons.Messages(jetstream.PullMaxMessages(int(min(last-after+seqBlock, 512))))
	if err != nil {
		return got, next, fmt.Errorf("read %s: %w", subject, err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for got < last {
		msg, err := it.Next(jetstream.NextMaxWait(s.consumerIdle))
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return got, next, fmt.Errorf("read %s: %w", subject, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return got, next, fmt.Errorf("read %s: %w", subject, err)
		}
		var m store.Message
		if err := json.Unmarshal(msg.Data(), &m); err != nil {
			return got, next, fmt.Errorf("read %s: decode message %d: %w", subject, meta.Sequence.Stream, err)
		}
		if m.Seq <= got {
			continue // before after: the index's block starts early
		}
		if m.Seq != got+1 {
			return got, next, fmt.Errorf("read %s: stream message %d has seq %d after %d", subject, meta.Sequence.Stream, m.Seq, got)
		}
		fn(m)
		got, next = m.Seq, meta.Sequence.Stream+1
	}
	s.consumerReads.Add(1)
	return got, next, nil
}

// ahead applies to r, in memory only, the messages of its subject past
// r.StreamSeq: stored at a quorum — so every node's Follow already
// delivers them to its sockets — but not yet in the record, because their
// writer is between publishing and updating it, or died there (its next
// append repairs the record). Reads include them: a client that saw seq n
// live and resumes on another node must find seq n there, not a
// conversation that seems to end before it.
func (s *Store) ahead(ctx context.Context, r *record) error {
	for {
		raw, err := s.msgs.GetMsg(ctx, r.StreamSeq+1, jetstream.WithGetMsgSubject(s.convSubject(r.ID)))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read ahead of %s: %w", r.ID, err)
		}
		var m store.Message
		if err := json.Unmarshal(raw.Data, &m); err != nil {
			return fmt.Errorf("read ahead of %s: decode message %d: %w", r.ID, raw.Sequence, err)
		}
		if m.Seq != r.LastSeq+1 {
			return fmt.Errorf("read ahead of %s: stream message %d has seq %d after %d", r.ID, raw.Sequence, m.Seq, r.LastSeq)
		}
		store.ApplyMessage(&r.Conversation, m)
		r.StreamSeq = raw.Sequence
	}
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
// read must see every stored message.
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

// LastSeq is the messages stream's newest stream sequence: Follow from it
// to learn of what is stored from now on.
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	info, err := s.msgs.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: stream info: %w", err)
	}
	return info.State.LastSeq, nil
}

// Follow calls fn with every message any node stored after stream
// sequence after (0: from the first), in stream order — which is seq
// order within each conversation — until ctx ends. To follow from now on,
// pass the stream's last sequence (LastSeq). It is how a node learns
// of messages other nodes stored (the multi-node fan-out). fn gets the
// message and its stream sequence, to resume from after a restart; it must
// not block for long. Follow returns ctx's error, or why it could not go on.
func (s *Store) Follow(ctx context.Context, after uint64, fn func(m store.Message, streamSeq uint64)) error {
	// Always from a position, never "new": a consumer created a moment
	// after a message was stored would start past it.
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{s.subject + ">"},
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: after + 1}
	cons, err := s.msgs.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("store: follow: %w", err)
	}
	defer s.dropConsumer(cons)
	// A consumer that stops delivering (its server died, or it was placed
	// where its first pull was lost) is made again after two missed
	// heartbeats: a second, not the library's default ten.
	it, err := cons.Messages(jetstream.PullHeartbeat(500*time.Millisecond), jetstream.PullExpiry(5*time.Second))
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
