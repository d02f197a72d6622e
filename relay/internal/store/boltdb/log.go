package boltdb

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
)

// The message log. Append puts each new message into one tree keyed by an
// increasing position (the log bucket's sequence), in the transaction that
// acknowledges it: a group commit of N messages to N conversations then
// dirties the few pages at the log's end, instead of one leaf per
// conversation for the message and another for its client id. The writer
// copies the log's entries into the per-conversation messages tree in the
// background (compactLog), a chunk (logChunk) of whole conversations per
// transaction with queued writes committed between chunks, so a page
// there is rewritten once per the messages its conversation got in that
// chunk.
//
// A moved entry stays in the log until every position before it is moved
// too: the step then deletes that prefix, a contiguous range of keys
// whose pages are freed whole, instead of single entries from all over
// the log (which dirtied nearly every page of it: docs/benchmarks.md).
// Steps take the conversations with the oldest entries first, so the
// prefix advances with every step and the log spans about one round of
// moves.
//
// Readers never see the difference: a conversation's messages are the
// range of the messages tree, followed by its entries with higher seqs
// still in the log, found through an index in memory (logIndex:
// conversation → positions), rebuilt from the log by Open (an entry whose
// message the tree holds is a moved one). The position up to which the
// log was moved (the watermark) is stored with the move, so a read
// transaction knows whether its snapshot is older than the index. An
// entry is never in neither tree; a moved one still in the log is read
// from the tree, as a reader skips log entries at or below the tree's
// last seq.

// keyLogMoved, in the meta bucket, is the watermark: it grows with every
// move (to at least the highest position moved, so a repaired log's
// sequence never hands a position out twice), and tells a reader whether
// its snapshot predates the index's last drop.
var keyLogMoved = []byte("log_moved")

const (
	// logCompactAt is the default for Options.LogCompactAt.
	logCompactAt = 8192
	// logChunk bounds the entries one compaction step (one bbolt write
	// transaction) moves. bbolt has one writer, so a step is the longest
	// an append waits behind: a whole move of 8192 entries took ~0.5 s on
	// the loaded box, a chunk of 512 a few tens of milliseconds. Smaller
	// chunks put fewer messages into each conversation's leaf per
	// transaction, which costs pages (docs/benchmarks.md).
	logChunk = 512
	// logDeleteMax bounds the moved entries one step deletes: the prefix
	// that goes when the last conversation holding it back moves can be
	// the whole log (32768 entries took half a second in one step); the
	// rest goes with the next steps. Contiguous deletes are cheap, so a
	// step deletes more than it moves and the prefix keeps up.
	logDeleteMax = 4 * logChunk
	// logIdle is how long the writer waits without writes before it moves
	// a shorter log: a quiet store ends up with an empty log.
	logIdle = 2 * time.Second
)

// logRef is one log entry of a conversation.
type logRef struct {
	pos, seq uint64
	clientID string
}

// logHeader is what the log's bookkeeping reads of a message.
type logHeader struct {
	ConversationID string `json:"conversation_id"`
	Seq            uint64 `json:"seq"`
	ClientID       string `json:"client_id"`
}

// decodeHeader is json.Unmarshal(v, &h): a log entry's header. Every
// entry begins with it as encodeMessage (and json.Marshal of a
// store.Message) writes it — the conversation id, seq, then the client
// id if any — so it is read from there and the rest only checked to be
// JSON. Any other shape (an escape in a string, a field out of place) is
// decoded in full.
func decodeHeader(v []byte) (logHeader, error) {
	if h, ok := plainHeader(v); ok && json.Valid(v) {
		return h, nil
	}
	var h logHeader
	err := json.Unmarshal(v, &h)
	return h, err
}

// moveHeader is decodeHeader for a move, which copies the entry's bytes
// as they are: only the header it files them under is read, not the whole
// message (a reflective decode of every entry was most of a move's own
// cost, issue 16). A body damaged on disk moves as it is, and is found
// where it lies by the readers and kefu check, as it was in the log.
func moveHeader(v []byte) (logHeader, error) {
	if h, ok := plainHeader(v); ok {
		return h, nil
	}
	var h logHeader
	err := json.Unmarshal(v, &h)
	return h, err
}

// plainHeader reads `{"conversation_id":"…","seq":N` and, if next,
// `,"client_id":"…"` where the strings hold no escape; ok false for
// anything else.
func plainHeader(v []byte) (h logHeader, ok bool) {
	rest, found := bytes.CutPrefix(v, []byte(`{"conversation_id":`))
	if !found {
		return h, false
	}
	conv, rest, ok := plainString(rest)
	if !ok {
		return h, false
	}
	if rest, found = bytes.CutPrefix(rest, []byte(`,"seq":`)); !found {
		return h, false
	}
	n := 0
	for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
		n++
	}
	if n == 0 || n > 1 && rest[0] == '0' || n > 19 {
		return h, false
	}
	seq, err := strconv.ParseUint(string(rest[:n]), 10, 64)
	if err != nil {
		return h, false
	}
	rest = rest[n:]
	h.ConversationID, h.Seq = string(conv), seq
	if rest, found = bytes.CutPrefix(rest, []byte(`,"client_id":`)); found {
		id, _, ok := plainString(rest)
		if !ok {
			return logHeader{}, false
		}
		h.ClientID = string(id)
		return h, true
	}
	// No client id: the next member must not be one either.
	if len(rest) == 0 || rest[0] != ',' && rest[0] != '}' || bytes.Contains(rest, []byte(`"client_id"`)) {
		return logHeader{}, false
	}
	return h, true
}

// plainString reads a JSON string without escapes or control characters
// at the start of b: its bytes and what follows.
func plainString(b []byte) (s, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != '"' {
		return nil, nil, false
	}
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return b[1:i], b[i+1:], true
		case c == '\\' || c < 0x20:
			return nil, nil, false
		}
	}
	return nil, nil, false
}

// logIndex lists, per conversation, its messages still in the log, in seq
// order. The writer goroutine is its only writer (under mu); readers copy
// what they need under mu.
type logIndex struct {
	mu    sync.RWMutex
	convs map[string][]logRef
	n     int
	// stale lists, per conversation, the positions of moved entries still
	// in the log (below the next step's prefix or not: compactLog deletes
	// them by range); staleN counts them. An erasure deletes them too.
	stale  map[string][]uint64
	staleN int
	// horizon is the watermark when entries were last dropped: a
	// snapshot with that watermark or a later one finds its log entries
	// in convs. An older one reads the log itself (rare: a read racing a
	// compaction step).
	horizon uint64
	// upTo is the newest log position taken in. A snapshot whose log
	// goes further was committed before the writer took the batch in
	// (promote runs after the commit): its newer entries are read from
	// the log itself.
	upTo uint64
}

func (x *logIndex) len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.n
}

// size is the number of entries in the log: not yet moved, and moved but
// not yet deleted.
func (x *logIndex) size() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.n + x.staleN
}

// refs copies conv's entries with seq > after, and returns the horizon
// and the newest position taken in.
func (x *logIndex) refs(conv string, after uint64) ([]logRef, uint64, uint64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	rs := x.convs[conv]
	i := sort.Search(len(rs), func(i int) bool { return rs[i].seq > after })
	return slices.Clone(rs[i:]), x.horizon, x.upTo
}

// logPending is an entry put by the batch being committed.
type logPending struct {
	conv string
	ref  logRef
}

// clientRef names a message by its conversation and client id.
type clientRef struct{ conv, clientID string }

// addLogged indexes a committed batch's entries and forgets the
// conversations it erased. Writer goroutine only.
func (x *logIndex) apply(added []logPending, dropped map[string]bool) {
	if len(added) == 0 && len(dropped) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, p := range added {
		x.convs[p.conv] = append(x.convs[p.conv], p.ref)
		x.n++
		x.upTo = max(x.upTo, p.ref.pos)
	}
	for conv := range dropped {
		x.n -= len(x.convs[conv])
		delete(x.convs, conv)
		x.staleN -= len(x.stale[conv])
		delete(x.stale, conv)
	}
}

// logPick is a conversation's oldest entries chosen for one move.
type logPick struct {
	conv string
	refs []logRef
}

// pick chooses up to n entries to move in one step: whole conversations,
// each leaf of the messages tree a step rewrites taking all the messages
// its conversation has in the log, in the order of their oldest entries,
// so the log's moved prefix grows with every step (a conversation with
// the most entries first would leave a quiet one's entry, and the whole
// log after it, in place for ever). A conversation that does not fit
// gives its oldest entries, as many as still fit. Moving a conversation's
// oldest entries keeps the tree a prefix of its seqs and the log the
// rest. Writer goroutine only.
func (x *logIndex) pick(n int) []logPick {
	x.mu.RLock()
	defer x.mu.RUnlock()
	all := make([]logPick, 0, len(x.convs))
	for conv, rs := range x.convs {
		all = append(all, logPick{conv, rs})
	}
	slices.SortFunc(all, func(a, b logPick) int { return compareU64(a.refs[0].pos, b.refs[0].pos) })
	var out []logPick
	for _, p := range all {
		if n == 0 {
			break
		}
		if len(p.refs) > n {
			p.refs = p.refs[:n] // a step is full whenever the log holds n
		}
		out = append(out, logPick{p.conv, slices.Clone(p.refs)})
		n -= len(p.refs)
	}
	return out
}

// low is the log's first position that stays after a step moves picked:
// the oldest entry not moved, or next (the log's next position) when the
// step moves them all. Every entry before it is moved.
func (x *logIndex) low(picked []logPick, next uint64) uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	taken := make(map[string]int, len(picked))
	for _, p := range picked {
		taken[p.conv] = len(p.refs)
	}
	low := next
	for conv, rs := range x.convs {
		if k := taken[conv]; k < len(rs) {
			low = min(low, rs[k].pos)
		}
	}
	return low
}

// below lists the positions before low that the log holds: the stale ones
// and those picked.
func (x *logIndex) below(picked []logPick, low uint64) map[uint64]bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := map[uint64]bool{}
	for _, ps := range x.stale {
		for _, pos := range ps {
			if pos >= low {
				break
			}
			out[pos] = true
		}
	}
	for _, p := range picked {
		for _, r := range p.refs {
			if r.pos < low {
				out[r.pos] = true
			}
		}
	}
	return out
}

// drop forgets the entries of a committed move, whose watermark was gen
// and which deleted the log before low: the moved entries from low on
// stay listed as stale. Writer goroutine only.
func (x *logIndex) drop(picked []logPick, gen, low uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, p := range picked {
		rs := x.convs[p.conv]
		k := min(len(p.refs), len(rs))
		for _, r := range rs[:k] {
			if r.pos >= low {
				x.stale[p.conv] = append(x.stale[p.conv], r.pos)
				x.staleN++
			}
		}
		if k == len(rs) {
			delete(x.convs, p.conv)
		} else {
			x.convs[p.conv] = slices.Clone(rs[k:])
		}
		x.n -= k
	}
	for conv, ps := range x.stale {
		i, _ := slices.BinarySearch(ps, low)
		if i == len(ps) {
			delete(x.stale, conv)
		} else if i > 0 {
			x.stale[conv] = slices.Clone(ps[i:])
		}
		x.staleN -= i
	}
	x.horizon = max(x.horizon, gen)
}

func posKey(pos uint64) []byte { return binary.BigEndian.AppendUint64(nil, pos) }

// logMoved reads the watermark of tx's snapshot.
func logMoved(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(bucketMeta).Get(keyLogMoved); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// loadLog builds the index from the log (Open): an entry whose message
// the messages tree holds was moved, and waits for its prefix to go.
func loadLog(tx *bolt.Tx) (*logIndex, error) {
	x := &logIndex{convs: map[string][]logRef{}, stale: map[string][]uint64{}, horizon: logMoved(tx)}
	mb := tx.Bucket(bucketMessages)
	err := tx.Bucket(bucketLog).ForEach(func(k, v []byte) error {
		h, err := decodeHeader(v)
		if len(k) != 8 || err != nil || h.ConversationID == "" {
			return fmt.Errorf("log entry %x: %w", k, store.ErrCorrupt)
		}
		pos := binary.BigEndian.Uint64(k)
		if mb.Get(messageKey(h.ConversationID, h.Seq)) != nil {
			x.stale[h.ConversationID] = append(x.stale[h.ConversationID], pos) // keys in order: sorted
			x.staleN++
			x.upTo = max(x.upTo, pos)
			return nil
		}
		x.convs[h.ConversationID] = append(x.convs[h.ConversationID], logRef{pos: pos, seq: h.Seq, clientID: h.ClientID})
		x.n++
		x.upTo = max(x.upTo, pos)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, rs := range x.convs {
		slices.SortFunc(rs, func(a, b logRef) int { return compareU64(a.seq, b.seq) })
	}
	return x, nil
}

func compareU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fixLogSequence makes the log's sequence at least its last position and
// the watermark: a repair copies records, not sequences, and a position
// handed out twice would overwrite a message.
func fixLogSequence(tx *bolt.Tx) error {
	lb := tx.Bucket(bucketLog)
	want := logMoved(tx)
	if k, _ := lb.Cursor().Last(); len(k) == 8 {
		want = max(want, binary.BigEndian.Uint64(k))
	}
	if lb.Sequence() < want {
		return lb.SetSequence(want)
	}
	return nil
}

// putLog puts m at the log's end in the batch's transaction and returns
// its position.
func (s *Store) putLog(tx *bolt.Tx, m store.Message) (uint64, error) {
	lb := tx.Bucket(bucketLog)
	lb.FillPercent = 1 // only ever appended to: full pages
	pos, err := lb.NextSequence()
	if err != nil {
		return 0, err
	}
	data, err := encodeMessage(&m)
	if err != nil {
		return 0, fmt.Errorf("encode message %s/%d: %w", m.ConversationID, m.Seq, err)
	}
	if err := lb.Put(posKey(pos), data); err != nil {
		return 0, err
	}
	s.batch.logged = append(s.batch.logged, logPending{conv: m.ConversationID, ref: logRef{pos: pos, seq: m.Seq, clientID: m.ClientID}})
	if m.ClientID != "" {
		if s.batch.loggedIDs == nil {
			s.batch.loggedIDs = map[clientRef]uint64{}
		}
		s.batch.loggedIDs[clientRef{m.ConversationID, m.ClientID}] = pos
	}
	return pos, nil
}

// byClientID finds a conversation's message by its client id: in this
// batch, in the log, or in the messages tree. Writer goroutine only.
func (s *Store) byClientID(tx *bolt.Tx, conv, clientID string) (store.Message, bool, error) {
	lb := tx.Bucket(bucketLog)
	if pos, ok := s.batch.loggedIDs[clientRef{conv, clientID}]; ok {
		m, err := decodeAt(lb, pos)
		return m, err == nil, err
	}
	for _, r := range s.log.convs[conv] {
		if r.clientID == clientID {
			m, err := decodeAt(lb, r.pos)
			return m, err == nil, err
		}
	}
	mb := tx.Bucket(bucketMessages)
	if v := mb.Get(clientIDKey(conv, clientID)); v != nil {
		m, err := getMessage(mb, conv, binary.BigEndian.Uint64(v))
		return m, err == nil, err
	}
	return store.Message{}, false, nil
}

func decodeAt(lb *bolt.Bucket, pos uint64) (store.Message, error) {
	var m store.Message
	v := lb.Get(posKey(pos))
	if v == nil {
		return m, fmt.Errorf("log entry %d: %w", pos, store.ErrNotFound)
	}
	if err := json.Unmarshal(v, &m); err != nil {
		return m, fmt.Errorf("decode log entry %d: %w: %w", pos, store.ErrCorrupt, err)
	}
	return m, nil
}

// logRefs lists conv's entries with seq > after that tx's snapshot may
// hold in the log: from the index, plus those of batches committed but
// not taken in yet, read from the log's end; or, when the snapshot is
// older than the index's last move, from the whole log.
func (s *Store) logRefs(tx *bolt.Tx, conv string, after uint64) ([]logRef, error) {
	moved := logMoved(tx)
	refs, horizon, upTo := s.log.refs(conv, after)
	from := upTo + 1 // entries not taken in yet
	if moved < horizon {
		refs, from = refs[:0], 1 // a snapshot older than a move: the whole log
	}
	// Only entries naming conv are decoded: during a burst the tail not
	// taken in yet is a whole batch, read for every history read.
	quoted, err := json.Marshal(conv)
	if err != nil {
		return nil, fmt.Errorf("log entries of %q: %w", conv, err)
	}
	c := tx.Bucket(bucketLog).Cursor()
	for k, v := c.Seek(posKey(from)); k != nil; k, v = c.Next() {
		if !bytes.Contains(v, quoted) {
			continue
		}
		h, err := decodeHeader(v)
		if err != nil {
			return nil, fmt.Errorf("decode log entry %x: %w: %w", k, store.ErrCorrupt, err)
		}
		if h.ConversationID == conv && h.Seq > after {
			refs = append(refs, logRef{pos: binary.BigEndian.Uint64(k), seq: h.Seq, clientID: h.ClientID})
		}
	}
	return refs, nil
}

// readMessages returns up to limit (<= 0: all) messages of conv with seq >
// after, as tx sees them: the messages tree's range, then the log's.
func (s *Store) readMessages(tx *bolt.Tx, conv string, after uint64, limit int) ([]store.Message, error) {
	var out []store.Message
	c := tx.Bucket(bucketMessages).Cursor()
	prefix := []byte(conv)
	last := after
	for k, v := c.Seek(messageKey(conv, after+1)); k != nil && bytes.HasPrefix(k, prefix) && isMessageKey(k, conv); k, v = c.Next() {
		var m store.Message
		if err := json.Unmarshal(v, &m); err != nil {
			return nil, fmt.Errorf("decode message %s: %w: %w", printKey("messages", k), store.ErrCorrupt, err)
		}
		out = append(out, m)
		last = m.Seq
		if limit > 0 && len(out) >= limit {
			return out, nil
		}
	}
	refs, err := s.logRefs(tx, conv, last)
	if err != nil {
		return nil, err
	}
	lb := tx.Bucket(bucketLog)
	for _, r := range refs {
		v := lb.Get(posKey(r.pos))
		if v == nil {
			continue // moved in this snapshot (read above), committed after it, or erased
		}
		var m store.Message
		if err := json.Unmarshal(v, &m); err != nil {
			return nil, fmt.Errorf("decode log entry %d: %w: %w", r.pos, store.ErrCorrupt, err)
		}
		out = append(out, m)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

// readMessage returns one message of conv as tx sees it.
func (s *Store) readMessage(tx *bolt.Tx, conv string, seq uint64) (store.Message, error) {
	ms, err := s.readMessages(tx, conv, seq-1, 1)
	if err != nil {
		return store.Message{}, err
	}
	if len(ms) == 0 || ms[0].Seq != seq {
		return store.Message{}, fmt.Errorf("message %s/%d: %w", conv, seq, store.ErrNotFound)
	}
	return ms[0], nil
}

// deleteLogOf removes conv's entries from the log in the batch's
// transaction; the index forgets them once it commits.
func (s *Store) deleteLogOf(tx *bolt.Tx, conv string) (int, error) {
	lb := tx.Bucket(bucketLog)
	n := 0
	del := func(pos uint64) error {
		k := posKey(pos)
		if lb.Get(k) == nil {
			return nil
		}
		n++
		return lb.Delete(k)
	}
	for _, r := range s.log.convs[conv] {
		if err := del(r.pos); err != nil {
			return n, err
		}
	}
	for _, pos := range s.log.stale[conv] {
		if err := del(pos); err != nil {
			return n, err
		}
	}
	for _, p := range s.batch.logged {
		if p.conv == conv {
			if err := del(p.ref.pos); err != nil {
				return n, err
			}
		}
	}
	s.batch.logDropped[conv] = true
	return n, nil
}

// compactLog copies up to logChunk log entries (logIndex.pick) into the
// messages tree in one transaction of its own, deletes the log's prefix
// that is all moved, and moves the watermark with them: a kill before its
// commit leaves them in the log alone, after it in the messages tree (and
// maybe in the log, where Open finds them moved), never in neither.
// Writer goroutine only.
func (s *Store) compactLog() error {
	start := time.Now()
	picked := s.log.pick(logChunk)
	var gen, low uint64
	moved, deleted := 0, 0
	s.dbMu.RLock()
	err := s.db.Update(func(tx *bolt.Tx) error {
		lb, mb := tx.Bucket(bucketLog), tx.Bucket(bucketMessages)
		gen = logMoved(tx) + 1
		for _, p := range picked {
			for _, r := range p.refs {
				k := posKey(r.pos)
				v := lb.Get(k)
				var h logHeader
				var err error
				if v != nil {
					h, err = moveHeader(v)
				}
				if v == nil || err != nil || h.ConversationID != p.conv || h.Seq != r.seq || len(h.ConversationID) != store.IDLen || h.Seq == 0 {
					return fmt.Errorf("log entry %x of conversation %s: %w (kefu check, then kefu repair)", k, p.conv, store.ErrCorrupt)
				}
				if err := mb.Put(messageKey(h.ConversationID, h.Seq), bytes.Clone(v)); err != nil {
					return err
				}
				if h.ClientID != "" {
					if err := mb.Put(clientIDKey(h.ConversationID, h.ClientID), binary.BigEndian.AppendUint64(nil, h.Seq)); err != nil {
						return err
					}
				}
				gen = max(gen, r.pos)
				moved++
			}
		}
		var err error
		low = s.log.low(picked, lb.Sequence()+1)
		if low, deleted, err = s.deleteMovedPrefix(lb, low, picked); err != nil {
			return err
		}
		if moved == 0 {
			return nil
		}
		return tx.Bucket(bucketMeta).Put(keyLogMoved, posKey(gen))
	})
	s.dbMu.RUnlock()
	if err == nil && moved == 0 && deleted == 0 && s.log.size() > 0 {
		err = fmt.Errorf("nothing to move or delete among %d entries: %w (kefu check)", s.log.size(), store.ErrCorrupt)
	}
	if err != nil {
		s.logRetry = time.Now().Add(time.Minute)
		s.opts.Logger.Error("store: compact the message log", "err", err)
		return fmt.Errorf("store: compact the message log: %w", err)
	}
	s.log.drop(picked, gen, low)
	if s.opts.OnLogCompact != nil {
		s.opts.OnLogCompact(moved, s.log.size(), time.Since(start))
	}
	return nil
}

// deleteMovedPrefix deletes the log's entries before low, up to
// logDeleteMax of them, and returns the position it deleted up to. They
// must be exactly the moved ones (stale or picked): one range of keys, so
// the pages it empties are freed whole and only the one it ends in is
// rewritten.
func (s *Store) deleteMovedPrefix(lb *bolt.Bucket, low uint64, picked []logPick) (uint64, int, error) {
	var keys [][]byte
	c := lb.Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) < low; k, _ = c.Next() {
		if len(keys) == logDeleteMax {
			low = binary.BigEndian.Uint64(k)
			break
		}
		keys = append(keys, bytes.Clone(k))
	}
	want := s.log.below(picked, low)
	for _, k := range keys {
		if !want[binary.BigEndian.Uint64(k)] {
			return 0, 0, fmt.Errorf("log entry %x is neither moved nor to be moved: %w (kefu check, then kefu repair)", k, store.ErrCorrupt)
		}
	}
	if len(keys) != len(want) {
		return 0, 0, fmt.Errorf("the log holds %d of the %d moved entries before position %d: %w (kefu check, then kefu repair)", len(keys), len(want), low, store.ErrCorrupt)
	}
	for _, k := range keys {
		if err := lb.Delete(k); err != nil {
			return 0, 0, err
		}
	}
	return low, len(keys), nil
}

// logDue says whether the writer should move some of the log now.
func (s *Store) logDue(idle bool) bool {
	if s.log.size() == 0 || time.Now().Before(s.logRetry) {
		return false
	}
	return idle || s.log.len() >= s.opts.LogCompactAt
}
