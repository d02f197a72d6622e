// Package search finds conversations by their words, tags, agents and
// dates for the agent console (GET /v1/agent/search), and keeps the tags
// agents put on conversations (issue 15). The index (index.go) lives in
// memory: built from the store when the relay starts, then kept current
// from every stored message (this node's appends, or in a cluster the
// stream every node follows), every tag change (told to the other nodes)
// and every erasure. A query never reads the store beyond the page of
// conversations it returns.
package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Store is what search needs of a backend.
type Store interface {
	Conversation(id string) (store.Conversation, error)
	Conversations(keep func(*store.Conversation) bool) ([]store.Conversation, error)
	Messages(convID string, after uint64, limit int) ([]store.Message, error)
	store.TagDocs
	// Emit puts a conversation.tagged event in the event log (webhooks).
	Emit(ctx context.Context, convID, typ string, data any) error
}

// Peers tells the other nodes of a cluster (nil on one node).
type Peers interface {
	Publish(kind string, v any)
}

// Options configure New.
type Options struct {
	Log *slog.Logger
	// Hub and Topic: where tag changes go to every console (the inbox
	// topic every agent socket reads, on every node).
	Hub   *hub.Hub
	Topic string
	Peers Peers
	Now   func() time.Time
	// Refresh is the longest a stored message waits to be searchable
	// (default DefaultRefresh). One coming after a quiet spell is indexed
	// at once; the appends within Refresh of an indexing wait for the
	// next, and are indexed together.
	Refresh time.Duration
}

// DefaultRefresh is Options.Refresh's default, Elasticsearch's refresh
// interval: a search sees a message at most a second after it was stored.
const DefaultRefresh = time.Second

// Service is the conversation search and the tags.
type Service struct {
	st   Store
	opts Options
	idx  *Index

	ready     atomic.Bool
	built     atomic.Int64 // conversations read so far by the build
	total     atomic.Int64 // conversations the build reads
	buildTook atomic.Int64 // ns

	qmu   sync.Mutex
	queue []item
	wake  chan struct{}
}

// item is an indexing job: an append's conversation and messages.
type item struct {
	conv *store.Conversation
	msgs []store.Message
}

// New returns the service; it does no I/O (Run builds the index).
func New(st Store, opts Options) *Service {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	return &Service{st: st, opts: opts, idx: NewIndex(), wake: make(chan struct{}, 1)}
}

// Index is the service's index, for tests and the benchmark.
func (s *Service) Index() *Index { return s.idx }

// OnAppend indexes a stored append (one node: the store's commit hook).
// It never blocks: the work is queued for Run.
func (s *Service) OnAppend(a store.Appended) {
	var msgs []store.Message
	for i, m := range a.Messages {
		if !a.Duplicate[i] {
			msgs = append(msgs, m)
		}
	}
	c := a.Conversation
	s.push(item{conv: &c, msgs: msgs})
}

// Deliver indexes a message read from the cluster's stream (every node's
// messages, in order). It never blocks.
func (s *Service) Deliver(m store.Message) { s.push(item{msgs: []store.Message{m}}) }

func (s *Service) push(it item) {
	s.qmu.Lock()
	s.queue = append(s.queue, it)
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run builds the index from the store, then indexes what is appended
// until ctx ends. Searches wait for the build (ErrBuilding).
func (s *Service) Run(ctx context.Context) {
	for try := 0; ; try++ {
		err := s.Build(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		s.opts.Log.Error("search: build the index; trying again", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(min(try+1, 30)) * time.Second):
		}
	}
	// Indexing is never urgent; a streamed chunk or an acknowledgement
	// is. Woken by every append, indexing ran in the moments a burst of
	// them made busy (100 AI answers starting or ending together) and
	// took a processor from the goroutines sending to visitors then
	// (bench/notes.md, "AI streaming", session 9). A burst's appends now
	// wait for one indexing after it.
	var last time.Time // when the last indexing that had work began
	for {
		// The queue is taken whole next: a wake-up sent before is spent.
		select {
		case <-s.wake:
		default:
		}
		if began := time.Now(); s.drain() > 0 {
			last = began
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		if wait := s.opts.Refresh - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// Pacing of a long indexing: indexSlice of work, then a pause of
// indexPause. runtime.Gosched would not do: the scheduler takes a
// goroutine that yielded back from its global queue before it looks at
// the network, so the goroutines whose sockets became readable would wait
// for the whole batch. A sleeping goroutine is on no queue.
const (
	indexSlice = 250 * time.Microsecond
	indexPause = 50 * time.Microsecond
)

// drain indexes the queued appends, in order, a slice of work at a time,
// and says how many there were.
func (s *Service) drain() int {
	s.qmu.Lock()
	q := s.queue
	s.queue = nil
	s.qmu.Unlock()
	var reread []string
	p := pacer{slice: time.Now()}
	for _, it := range q {
		p.step()
		if it.conv != nil {
			s.idx.AddConversation(*it.conv)
		}
		s.idx.AddMessages(it.msgs)
		if it.conv == nil && len(it.msgs) > 0 && s.stateChanged(it.msgs) && !slices.Contains(reread, it.msgs[0].ConversationID) {
			reread = append(reread, it.msgs[0].ConversationID)
		}
	}
	// A message from the stream says nothing of who has the conversation
	// now: read it again where that may have changed (every hand-off,
	// assignment, transfer and close stores a system line just after),
	// and for a conversation new to the index.
	for _, id := range reread {
		p.step()
		c, err := s.st.Conversation(id)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				s.opts.Log.Warn("search: read a conversation's state", "conversation", id, "err", err)
			}
			continue
		}
		s.idx.AddConversation(c)
	}
	return len(q)
}

// pacer pauses a long indexing every indexSlice of work.
type pacer struct{ slice time.Time }

func (p *pacer) step() {
	if time.Since(p.slice) > indexSlice {
		time.Sleep(indexPause)
		p.slice = time.Now()
	}
}

// stateChanged reports whether messages from the stream may come with a
// change of their conversation's state the index cannot work out itself.
func (s *Service) stateChanged(msgs []store.Message) bool {
	if !s.idx.knowsState(msgs[0].ConversationID) {
		return true
	}
	for _, m := range msgs {
		if m.From == protocol.FromSystem {
			return true
		}
	}
	return false
}

// Build reads every conversation, its messages and the tags into the
// index. Appends meanwhile are queued and indexed after it (a message
// read by both counts once).
func (s *Service) Build(ctx context.Context) error {
	t := time.Now()
	convs, err := s.st.Conversations(nil)
	if err != nil {
		return fmt.Errorf("search: list conversations: %w", err)
	}
	s.total.Store(int64(len(convs)))
	for i, c := range convs {
		if err := ctx.Err(); err != nil {
			return err
		}
		msgs, err := s.st.Messages(c.ID, 0, 0)
		if errors.Is(err, store.ErrNotFound) {
			continue // erased meanwhile
		}
		if err != nil {
			return fmt.Errorf("search: messages of %s: %w", c.ID, err)
		}
		s.idx.AddConversation(c)
		s.idx.AddMessages(msgs)
		s.built.Store(int64(i + 1))
	}
	if err := s.reloadTags(convs); err != nil {
		return err
	}
	s.buildTook.Store(int64(time.Since(t)))
	s.ready.Store(true)
	s.opts.Log.Info("search: index built", "conversations", len(convs), "terms", s.idx.Terms(), "took", time.Since(t).Round(time.Millisecond))
	return nil
}

// reloadTags sets every conversation's tags from the store; tags of
// conversations no longer stored are ignored.
func (s *Service) reloadTags(convs []store.Conversation) error {
	all, err := store.AllTags(s.st)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	have := map[string]bool{}
	for _, c := range convs {
		have[c.ID] = true
	}
	for id, tags := range all {
		if convs == nil || have[id] {
			s.idx.SetTags(id, tags)
		}
	}
	if convs == nil {
		for id := range s.idx.Tagged() {
			if _, ok := all[id]; !ok {
				s.idx.SetTags(id, nil)
			}
		}
	}
	return nil
}

// BuildTook is how long the last build took (0 before one finished).
func (s *Service) BuildTook() time.Duration { return time.Duration(s.buildTook.Load()) }

// Ready reports whether the index is built.
func (s *Service) Ready() bool { return s.ready.Load() }

// ErrBuilding means the index is still being built after a start.
var ErrBuilding = errors.New("the search index is being built")

// Page bounds.
const (
	DefaultLimit = 20
	MaxLimit     = 100
	MaxOffset    = 1000
	MaxQuery     = 200 // bytes of text
)

// Found is one conversation in the results, as it is now.
type Found struct {
	ConversationID string   `json:"conversation_id"`
	VisitorID      string   `json:"visitor_id"`
	Status         string   `json:"status"`
	Handler        string   `json:"handler"`
	AgentID        string   `json:"agent_id,omitempty"`
	Preview        string   `json:"preview,omitempty"`
	Intent         string   `json:"intent,omitempty"`
	LastSeq        uint64   `json:"last_seq"`
	CreatedAt      int64    `json:"created_at"`
	UpdatedAt      int64    `json:"updated_at"`
	Tags           []string `json:"tags,omitempty"`
	Score          float64  `json:"score"`
	// Snippet is the message the words matched best, around the match
	// (nil for a search without words).
	Snippet *Snippet `json:"snippet,omitempty"`
}

// Result is a page of results.
type Result struct {
	Total         int     `json:"total"`
	Offset        int     `json:"offset"`
	Limit         int     `json:"limit"`
	Conversations []Found `json:"conversations"`
}

// Search runs q. Each conversation on the page is read from the store:
// it is shown as it is now, and one erased where this node did not hear
// of it (a cluster node cut off meanwhile) is dropped from the index then.
func (s *Service) Search(q Query, offset, limit int) (Result, error) {
	if !s.ready.Load() {
		return Result{}, fmt.Errorf("%w (%d of %d conversations read); try again in a moment", ErrBuilding, s.built.Load(), s.total.Load())
	}
	res := Result{Offset: offset, Limit: limit, Conversations: []Found{}}
	hits, total := s.idx.Search(q, offset, limit)
	res.Total = total
	words := newMatcher(q.Text)
	for _, h := range hits {
		c, err := s.st.Conversation(h.ID)
		if errors.Is(err, store.ErrNotFound) {
			s.idx.Remove(h.ID)
			res.Total--
			continue
		}
		if err != nil {
			return Result{}, fmt.Errorf("search: conversation %s: %w", h.ID, err)
		}
		// The index may not have heard yet of a change of state made on
		// another node: the conversation as it is now decides.
		s.idx.AddConversation(c)
		if !inAnyState(c.Status, c.Handler, q.Status) {
			res.Total--
			continue
		}
		f := Found{
			ConversationID: c.ID, VisitorID: c.VisitorID, Status: c.Status, Handler: c.Handler, AgentID: c.AgentID,
			Preview: c.Preview, Intent: c.Intent, LastSeq: c.LastSeq, CreatedAt: c.CreatedAt.UnixMilli(),
			UpdatedAt: c.UpdatedAt.UnixMilli(), Tags: h.Tags, Score: h.Score,
		}
		if !words.empty() {
			if f.Snippet, err = s.snippet(c, words); err != nil {
				return Result{}, err
			}
		}
		res.Conversations = append(res.Conversations, f)
	}
	return res, nil
}

// snippet reads a found conversation's newest messages (at most
// snippetScan) and cuts the best match out of them.
func (s *Service) snippet(c store.Conversation, words matcher) (*Snippet, error) {
	msgs, err := s.st.Messages(c.ID, c.LastSeq-min(c.LastSeq, snippetScan), 0)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("search: messages of %s: %w", c.ID, err)
	}
	return snippetOf(msgs, words), nil
}

// TagsFrame tells consoles a conversation's tags changed.
type TagsFrame struct {
	Type           string   `json:"type"` // "tags"
	ConversationID string   `json:"conversation_id"`
	Tags           []string `json:"tags"`
	By             string   `json:"by,omitempty"`
}

// TypeTags is the agent socket frame of a tag change.
const TypeTags = "tags"

// kindTags is the cluster event of a tag change: other nodes read the
// conversation's tags again. kindErased: they drop conversations.
const (
	kindTags   = "search.tags"
	kindErased = "search.erased"
)

type peerMsg struct {
	IDs []string `json:"ids"`
}

// TagsChange is what an agent asks: tags to add and to remove, as typed.
type TagsChange struct {
	Add    []string `json:"add"`
	Remove []string `json:"remove"`
}

// ChangeTags adds and removes tags on a conversation for an agent, and
// tells every console, the other nodes and the webhooks.
func (s *Service) ChangeTags(ctx context.Context, convID string, ch TagsChange, by store.Account) ([]string, error) {
	if len(ch.Add)+len(ch.Remove) == 0 {
		return nil, protocol.Errorf(protocol.CodeBadField, `give tags in "add" or "remove"`)
	}
	if len(ch.Add)+len(ch.Remove) > store.MaxTags*2 {
		return nil, protocol.Errorf(protocol.CodeBadField, fmt.Sprintf("at most %d tags in one change", store.MaxTags*2))
	}
	norm := func(in []string) ([]string, error) {
		out := make([]string, 0, len(in))
		for _, t := range in {
			n, err := store.NormaliseTag(t)
			if err != nil {
				return nil, protocol.Errorf(protocol.CodeBadField, err.Error())
			}
			out = append(out, n)
		}
		return out, nil
	}
	add, err := norm(ch.Add)
	if err != nil {
		return nil, err
	}
	remove, err := norm(ch.Remove)
	if err != nil {
		return nil, err
	}
	if _, err := s.st.Conversation(convID); err != nil {
		return nil, err
	}
	before, after, err := store.ChangeTags(ctx, s.st, convID, add, remove, by.ID, s.opts.Now())
	if err != nil {
		return nil, err
	}
	s.idx.SetTags(convID, after)
	if slices.Equal(before, after) {
		return after, nil
	}
	if s.opts.Peers != nil {
		s.opts.Peers.Publish(kindTags, peerMsg{IDs: []string{convID}})
	}
	if s.opts.Hub != nil {
		tags := after
		if tags == nil {
			tags = []string{}
		}
		s.opts.Hub.Publish(s.opts.Topic, hub.NewFrame(TagsFrame{Type: TypeTags, ConversationID: convID, Tags: tags, By: by.ID}))
	}
	added, removed := diff(before, after)
	// A second commit after the tags' own: a crash between them loses the
	// webhook event, never the tags (docs/decisions.md, issue 15).
	if err := s.st.Emit(ctx, convID, store.EventTagged, map[string]any{"tags": after, "added": added, "removed": removed, "by": by.ID}); err != nil {
		s.opts.Log.Warn("search: record the tagged event", "conversation", convID, "err", err)
	}
	return after, nil
}

func diff(before, after []string) (added, removed []string) {
	added, removed = []string{}, []string{}
	for _, t := range after {
		if !slices.Contains(before, t) {
			added = append(added, t)
		}
	}
	for _, t := range before {
		if !slices.Contains(after, t) {
			removed = append(removed, t)
		}
	}
	return added, removed
}

// Eraser drops erased conversations from the index and their tags from
// the store, here and on the other nodes.
func (s *Service) Eraser() privacy.Eraser {
	return privacy.EraserFunc{ID: "search", Fn: func(ctx context.Context, sub privacy.Subject) error {
		s.idx.Remove(sub.ConversationIDs...)
		if s.opts.Peers != nil && len(sub.ConversationIDs) > 0 {
			s.opts.Peers.Publish(kindErased, peerMsg{IDs: sub.ConversationIDs})
		}
		return store.EraseTags(ctx, s.st, sub.ConversationIDs)
	}}
}

// PeerHandlers are the cluster events the service listens to.
func (s *Service) PeerHandlers() map[string]func(data []byte, reply func(any)) {
	decode := func(data []byte) []string {
		var m peerMsg
		if err := json.Unmarshal(data, &m); err != nil {
			s.opts.Log.Warn("search: bad cluster event", "err", err)
			return nil
		}
		return m.IDs
	}
	return map[string]func([]byte, func(any)){
		kindErased: func(data []byte, _ func(any)) { s.idx.Remove(decode(data)...) },
		kindTags: func(data []byte, _ func(any)) {
			for _, id := range decode(data) {
				tags, err := store.ReadTags(s.st, id)
				if err != nil {
					s.opts.Log.Warn("search: read tags changed on another node", "conversation", id, "err", err)
					continue
				}
				s.idx.SetTags(id, tags)
			}
		},
	}
}

// Rejoined rereads every tag after this node was cut off from the others
// (it may have missed their changes). Erasures it missed drop out at the
// next search that finds them (Search reads each hit).
func (s *Service) Rejoined() {
	if err := s.reloadTags(nil); err != nil {
		s.opts.Log.Warn("search: reread tags after rejoining", "err", err)
	}
}
