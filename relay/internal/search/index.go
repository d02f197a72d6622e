package search

import (
	"container/heap"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/kefuhq/kefu/router"
)

// Index is an in-memory inverted index of conversations: for every term
// of their messages (router.Terms: the intent model's normalisation, CJK
// by characters and pairs), the conversations holding it and how often;
// beside it each conversation's tags, agents and activity dates. It is
// kept up to date message by message, so a query never reads the store.
// Safe for concurrent use.
type Index struct {
	mu    sync.RWMutex
	docs  []*doc // by number; nil once removed (numbers are not reused)
	byID  map[string]int32
	post  map[string][]posting // sorted by doc number
	tags  map[string]int       // tag → conversations holding it
	count int                  // live docs
}

type posting struct {
	doc int32
	tf  uint16
}

// doc is what the index knows of one conversation.
type doc struct {
	id      string
	agents  []string // who had it, were given it or wrote in it
	tags    []string
	created time.Time
	updated time.Time
	lastSeq uint64 // messages up to here are indexed
	// status and handler as of stateSeq (the conversation's seq when it
	// was read, or the message that changed them): an older reading
	// never overwrites a newer one.
	status, handler string
	stateSeq        uint64
}

// maxTermRunes bounds what one message adds to the index: a pasted log
// should not grow it without end (what is past it is not searchable).
const maxTermRunes = 4000

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{byID: map[string]int32{}, post: map[string][]posting{}, tags: map[string]int{}}
}

// Len is the number of conversations indexed.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.count
}

// docLocked returns the doc of id, adding it when create is set.
func (x *Index) docLocked(id string, create bool) (*doc, int32) {
	if n, ok := x.byID[id]; ok {
		return x.docs[n], n
	}
	if !create {
		return nil, -1
	}
	n := int32(len(x.docs))
	d := &doc{id: id}
	x.docs = append(x.docs, d)
	x.byID[id] = n
	x.count++
	return d, n
}

// AddConversation records a conversation's dates and agent (its messages
// come through AddMessages).
func (x *Index) AddConversation(c store.Conversation) {
	x.mu.Lock()
	defer x.mu.Unlock()
	d, _ := x.docLocked(c.ID, true)
	if d.created.IsZero() || c.CreatedAt.Before(d.created) {
		d.created = c.CreatedAt
	}
	if c.UpdatedAt.After(d.updated) {
		d.updated = c.UpdatedAt
	}
	if c.AgentID != "" && !slices.Contains(d.agents, c.AgentID) {
		d.agents = append(d.agents, c.AgentID)
	}
	if c.Status != "" && (d.status == "" || c.LastSeq >= d.stateSeq) {
		d.status, d.handler, d.stateSeq = c.Status, c.Handler, c.LastSeq
	}
}

// AddMessages indexes stored messages of one conversation, in seq order.
// A message at or below the conversation's indexed seq is skipped, so the
// same message coming twice (the start's read and a follower) counts once.
func (x *Index) AddMessages(msgs []store.Message) {
	if len(msgs) == 0 {
		return
	}
	// Terms are counted outside the lock: a query waits only for the
	// postings to change.
	tf := map[string]uint16{}
	convID := msgs[0].ConversationID
	x.mu.RLock()
	var from uint64
	if d, _ := x.docLocked(convID, false); d != nil {
		from = d.lastSeq
	}
	x.mu.RUnlock()
	var last, visitorSeq uint64
	var agents []string
	var newest, oldest time.Time
	for _, m := range msgs {
		if m.Seq <= from || m.ConversationID != convID {
			continue
		}
		last = max(last, m.Seq)
		// An agent's own messages, and the line saying one joined (it
		// names them: an agent given a conversation who never wrote in
		// it had it all the same).
		if (m.From == protocol.FromAgent || m.From == protocol.FromSystem) && m.AuthorID != "" && !slices.Contains(agents, m.AuthorID) {
			agents = append(agents, m.AuthorID)
		}
		if m.From == protocol.FromVisitor {
			visitorSeq = max(visitorSeq, m.Seq)
		}
		if newest.IsZero() || m.Time.After(newest) {
			newest = m.Time
		}
		if oldest.IsZero() || m.Time.Before(oldest) {
			oldest = m.Time
		}
		if !indexed(m) {
			continue
		}
		router.Terms(m.Text, maxTermRunes, func(t string) {
			if tf[t] < math.MaxUint16 {
				tf[t]++
			}
		})
		if m.Attachment != nil {
			router.Terms(m.Attachment.Name, 200, func(t string) {
				if tf[t] < math.MaxUint16 {
					tf[t]++
				}
			})
		}
	}
	if last == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	d, n := x.docLocked(convID, true)
	if last <= d.lastSeq {
		return // indexed meanwhile by another path
	}
	d.lastSeq = last
	if d.created.IsZero() || oldest.Before(d.created) {
		d.created = oldest
	}
	if newest.After(d.updated) {
		d.updated = newest
	}
	for _, a := range agents {
		if !slices.Contains(d.agents, a) {
			d.agents = append(d.agents, a)
		}
	}
	if visitorSeq > d.stateSeq && d.status != "" {
		// A visitor's message leaves the conversation open, and reopens
		// a closed one for the bot (store.ApplyMessage).
		if d.status == store.StatusClosed {
			d.handler = store.HandlerBot
		}
		d.status, d.stateSeq = store.StatusOpen, visitorSeq
	}
	for t, c := range tf {
		x.addPostingLocked(t, n, c)
	}
}

// knowsState reports whether the index has a conversation's status.
func (x *Index) knowsState(id string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	d, _ := x.docLocked(id, false)
	return d != nil && d.status != ""
}

// indexed reports whether a message's words are searchable: what people
// and the bot said, not system lines (joined, closed) or ratings.
func indexed(m store.Message) bool {
	return m.From != protocol.FromSystem && m.From != protocol.FromRating
}

func (x *Index) addPostingLocked(term string, n int32, c uint16) {
	ps := x.post[term]
	i := sort.Search(len(ps), func(i int) bool { return ps[i].doc >= n })
	if i < len(ps) && ps[i].doc == n {
		ps[i].tf = uint16(min(int(ps[i].tf)+int(c), math.MaxUint16))
		return
	}
	ps = slices.Insert(ps, i, posting{doc: n, tf: c})
	x.post[term] = ps
}

// SetTags replaces a conversation's tags (a conversation the index does
// not hold yet is added: tagged before its first message was indexed).
func (x *Index) SetTags(convID string, tags []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	d, _ := x.docLocked(convID, len(tags) > 0)
	if d == nil {
		return
	}
	x.setTagsLocked(d, tags)
}

func (x *Index) setTagsLocked(d *doc, tags []string) {
	for _, t := range d.tags {
		if x.tags[t]--; x.tags[t] <= 0 {
			delete(x.tags, t)
		}
	}
	d.tags = slices.Clone(tags)
	for _, t := range d.tags {
		x.tags[t]++
	}
}

// Tags returns a conversation's tags.
func (x *Index) Tags(convID string) []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if d, _ := x.docLocked(convID, false); d != nil {
		return slices.Clone(d.tags)
	}
	return nil
}

// TagCount is a tag in use and how many conversations have it.
type TagCount struct {
	Tag   string `json:"tag"`
	Count int    `json:"count"`
}

// TagsInUse lists the tags on conversations, most used first.
func (x *Index) TagsInUse() []TagCount {
	x.mu.RLock()
	out := make([]TagCount, 0, len(x.tags))
	for t, n := range x.tags {
		out = append(out, TagCount{t, n})
	}
	x.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Tag < out[j].Tag
	})
	return out
}

// Tagged returns every tagged conversation's tags, by id.
func (x *Index) Tagged() map[string][]string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := map[string][]string{}
	for _, d := range x.docs {
		if d != nil && len(d.tags) > 0 {
			out[d.id] = slices.Clone(d.tags)
		}
	}
	return out
}

// Remove drops conversations and every term only they held: an erased
// conversation is never found again, and its words leave the relay's
// memory. One pass over the postings, however many are removed.
func (x *Index) Remove(ids ...string) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	gone := map[int32]bool{}
	for _, id := range ids {
		n, ok := x.byID[id]
		if !ok {
			continue
		}
		x.setTagsLocked(x.docs[n], nil)
		x.docs[n] = nil
		delete(x.byID, id)
		gone[n] = true
		x.count--
	}
	if len(gone) == 0 {
		return 0
	}
	for t, ps := range x.post {
		ps = slices.DeleteFunc(ps, func(p posting) bool { return gone[p.doc] })
		if len(ps) == 0 {
			delete(x.post, t)
			continue
		}
		x.post[t] = ps
	}
	return len(gone)
}

// Query is a search: words, and filters that all must hold.
type Query struct {
	// Text: every word must be in the conversation; the last one may be
	// the start of a word (the box searches as the agent types).
	Text string
	// Tags: the conversation has every one.
	Tags []string
	// Agent: an account that had the conversation or wrote in it.
	Agent string
	// From and To bound the conversation's activity: it matches when it
	// was active at some time in [From, To) (zero: unbounded).
	From, To time.Time
	// Status: the conversation is in one of these states (Statuses).
	Status []string
}

// The states a search can ask for (Query.Status): open with anyone, with
// the bot, waiting in the queue, with an agent, or closed.
const (
	StateOpen   = "open"
	StateBot    = "bot"
	StateQueued = "queued"
	StateAgent  = "agent"
	StateClosed = "closed"
)

// Statuses lists the states Query.Status takes, in the order to offer them.
var Statuses = []string{StateOpen, StateBot, StateQueued, StateAgent, StateClosed}

// InState reports whether a conversation's status and handler are the
// state asked for.
func InState(status, handler, state string) bool {
	switch state {
	case StateOpen:
		return status == store.StatusOpen
	case StateClosed:
		return status == store.StatusClosed
	case StateBot:
		return status == store.StatusOpen && handler == store.HandlerBot
	case StateQueued:
		return status == store.StatusOpen && handler == store.HandlerQueue
	case StateAgent:
		return status == store.StatusOpen && handler == store.HandlerAgent
	}
	return false
}

func inAnyState(status, handler string, states []string) bool {
	if len(states) == 0 {
		return true
	}
	for _, st := range states {
		if InState(status, handler, st) {
			return true
		}
	}
	return false
}

// Hit is a conversation found, with its score (higher is better; 0 for a
// search without words).
type Hit struct {
	ID      string
	Score   float64
	Updated time.Time
	Tags    []string
}

// Search returns the conversations q matches, best first (by score, then
// newest activity), and how many match in all; at most offset+limit are
// ranked.
func (x *Index) Search(q Query, offset, limit int) ([]Hit, int) {
	terms, prefix := queryTerms(q.Text)

	x.mu.RLock()
	defer x.mu.RUnlock()
	all := float64(max(x.count, 1))
	idf := func(df int) float64 { return math.Log(1 + all/float64(max(df, 1))) }

	// Candidates: the rarest term's postings, narrowed by the others
	// (each looked up by binary search), in parallel slices: a map per
	// query cost most of a common word's time.
	lists := make([][]posting, 0, len(terms))
	for _, t := range terms {
		ps, ok := x.post[t]
		if !ok {
			return nil, 0
		}
		lists = append(lists, ps)
	}
	var cand []int32
	var score []float64
	if len(lists) > 0 {
		sort.Slice(lists, func(i, j int) bool { return len(lists[i]) < len(lists[j]) })
		w := idf(len(lists[0]))
		cand = make([]int32, len(lists[0]))
		score = make([]float64, len(lists[0]))
		for i, p := range lists[0] {
			cand[i], score[i] = p.doc, w*tfWeight(p.tf)
		}
		for _, ps := range lists[1:] {
			w := idf(len(ps))
			k := 0
			for i, n := range cand {
				j := sort.Search(len(ps), func(j int) bool { return ps[j].doc >= n })
				if j == len(ps) || ps[j].doc != n {
					continue
				}
				cand[k], score[k] = n, score[i]+w*tfWeight(ps[j].tf)
				k++
			}
			cand, score = cand[:k], score[:k]
		}
	}
	if prefix != "" {
		// Every word the prefix starts, merged into one score per
		// conversation (the best of its expansions).
		pre := make([]float64, len(x.docs))
		found := false
		for t, ps := range x.post {
			if !strings.HasPrefix(t, prefix) {
				continue
			}
			found = true
			w := idf(len(ps))
			for _, p := range ps {
				pre[p.doc] = max(pre[p.doc], w*tfWeight(p.tf))
			}
		}
		if !found {
			return nil, 0
		}
		if len(lists) > 0 {
			k := 0
			for i, n := range cand {
				if pre[n] > 0 {
					cand[k], score[k] = n, score[i]+pre[n]
					k++
				}
			}
			cand, score = cand[:k], score[:k]
		} else {
			for n, v := range pre {
				if v > 0 {
					cand, score = append(cand, int32(n)), append(score, v)
				}
			}
		}
	}
	if len(lists) == 0 && prefix == "" {
		// No words: every conversation, scored alike.
		for n, d := range x.docs {
			if d != nil {
				cand, score = append(cand, int32(n)), append(score, 0)
			}
		}
	}

	// Filters, then the best offset+limit kept in a bounded heap: the
	// rest are only counted.
	top := &hitHeap{}
	want := offset + limit
	total := 0
	for i, n := range cand {
		d := x.docs[n]
		if d == nil || !d.matches(q) {
			continue
		}
		total++
		h := Hit{ID: d.id, Score: score[i], Updated: d.updated}
		switch {
		case top.Len() < want:
			heap.Push(top, h)
		case better(h, (*top)[0]):
			(*top)[0] = h
			heap.Fix(top, 0)
		}
	}
	hits := make([]Hit, top.Len())
	for i := len(hits) - 1; i >= 0; i-- {
		hits[i] = heap.Pop(top).(Hit)
	}
	if offset >= len(hits) {
		return nil, total
	}
	hits = hits[offset:]
	for i := range hits {
		hits[i].Tags = slices.Clone(x.docs[x.byID[hits[i].ID]].tags)
	}
	return hits, total
}

// queryTerms splits a query's text into the terms a conversation must
// hold and the last word as typed so far (a prefix, unless it is CJK,
// whose characters are terms already; "" when the text ends in a space).
func queryTerms(text string) (terms []string, prefix string) {
	router.Terms(text, 2000, func(t string) {
		if !slices.Contains(terms, t) {
			terms = append(terms, t)
		}
	})
	if n := len(terms); n > 0 && text != "" && !endsInSeparator(text) {
		if r, _ := utf8.DecodeRuneInString(terms[n-1]); !isCJKRune(r) {
			prefix = terms[n-1]
			terms = terms[:n-1]
		}
	}
	return terms, prefix
}

// better orders results: higher score, then newer activity, then id.
func better(a, b Hit) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	if !a.Updated.Equal(b.Updated) {
		return a.Updated.After(b.Updated)
	}
	return a.ID < b.ID
}

// hitHeap is a min-heap of the best hits so far: its root is the worst
// of them, the one a better hit replaces.
type hitHeap []Hit

func (h hitHeap) Len() int           { return len(h) }
func (h hitHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h hitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(v any)        { *h = append(*h, v.(Hit)) }
func (h *hitHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

// tfWeight saturates a term's count: the tenth "refund" in a conversation
// says less than the first.
func tfWeight(tf uint16) float64 { f := float64(tf); return f / (f + 1.2) }

func (d *doc) matches(q Query) bool {
	for _, t := range q.Tags {
		if !slices.Contains(d.tags, t) {
			return false
		}
	}
	if q.Agent != "" && !slices.Contains(d.agents, q.Agent) {
		return false
	}
	if !q.From.IsZero() && d.updated.Before(q.From) {
		return false
	}
	if !q.To.IsZero() && !d.created.Before(q.To) {
		return false
	}
	return inAnyState(d.status, d.handler, q.Status)
}

func endsInSeparator(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r == ' ' || r == '\t' || r == '\n' || r == '　'
}

// isCJKRune is router's test of a script written without spaces.
func isCJKRune(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) || r == 'ー'
}

// Terms is the number of distinct terms indexed.
func (x *Index) Terms() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.post)
}
