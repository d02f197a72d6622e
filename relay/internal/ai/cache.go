package ai

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
)

// Defaults for NewCache.
const (
	// DefaultCacheEntries bounds memory: a few MB of short answers.
	DefaultCacheEntries = 2048
	// DefaultCacheTTL lets an edited intent or price reach answers within
	// the hour even if the grounding version was not bumped.
	DefaultCacheTTL = time.Hour
)

// Cache keeps complete answers to repeated questions: a bounded LRU whose
// entries also expire after a TTL. Safe for concurrent use.
type Cache struct {
	max int
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	order *list.List // front: most recently used
	items map[string]*list.Element

	hits, misses atomic.Int64
}

type cacheEntry struct {
	key     string
	answer  string
	expires time.Time
	// question and scope are hashes of the key's fields, so Forget can
	// find the entries of one person's questions without the cache
	// keeping their text.
	question, scope string
}

// CacheStats are the figures for metrics.
type CacheStats struct {
	Hits, Misses int64
	Entries      int
}

// NewCache returns a cache of at most maxEntries answers, each kept for ttl;
// values ≤ 0 take the defaults; now is time.Now if nil.
func NewCache(maxEntries int, ttl time.Duration, now func() time.Time) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheEntries
	}
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Cache{max: maxEntries, ttl: ttl, now: now, order: list.New(), items: map[string]*list.Element{}}
}

// CacheKey is what an answer depends on. Scope is empty only for a
// context-free question (no earlier turns): then the answer may be shared
// between visitors. An answer that depends on a visitor's own conversation
// carries that conversation's scope (the session fingerprint), so it is
// never served to anyone else.
type CacheKey struct {
	Question         string // normalised: NormalizeQuestion
	GroundingVersion string // changes whenever the intents change
	Model            string
	SettingsHash     string // Settings.Hash
	Scope            string
}

// NewCacheKey builds the key for a question under settings s.
func NewCacheKey(s Settings, groundingVersion, question, scope string) CacheKey {
	return CacheKey{
		Question:         NormalizeQuestion(question),
		GroundingVersion: groundingVersion,
		Model:            s.Model,
		SettingsHash:     s.Hash(),
		Scope:            scope,
	}
}

func (k CacheKey) id() string {
	h := sha256.New()
	for _, f := range []string{k.Question, k.GroundingVersion, k.Model, k.SettingsHash, k.Scope} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// NormalizeQuestion folds case, collapses whitespace and drops trailing
// punctuation, so "Opening hours?" and "opening  hours" share an answer.
func NormalizeQuestion(q string) string {
	q = strings.Join(strings.Fields(strings.ToLower(q)), " ")
	return strings.TrimRightFunc(q, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSpace(r) })
}

// Get returns a fresh cached answer and counts a hit or a miss.
func (c *Cache) Get(k CacheKey) (string, bool) {
	id := k.id()
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[id]; ok {
		e := el.Value.(*cacheEntry)
		if c.now().Before(e.expires) {
			c.order.MoveToFront(el)
			c.hits.Add(1)
			return e.answer, true
		}
		c.order.Remove(el)
		delete(c.items, id)
	}
	c.misses.Add(1)
	return "", false
}

// Put stores an answer, evicting the least recently used beyond the bound.
func (c *Cache) Put(k CacheKey, answer string) {
	id := k.id()
	c.mu.Lock()
	defer c.mu.Unlock()
	exp := c.now().Add(c.ttl)
	if el, ok := c.items[id]; ok {
		e := el.Value.(*cacheEntry)
		e.answer, e.expires = answer, exp
		c.order.MoveToFront(el)
		return
	}
	c.items[id] = c.order.PushFront(&cacheEntry{key: id, answer: answer, expires: exp, question: sum(k.Question), scope: sum(k.Scope)})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).key)
	}
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Forget drops the answers to any of questions (compared as keys are,
// after NormalizeQuestion) and every answer scoped to one of scopes (a
// visitor's session fingerprints), and returns how many it dropped: a
// visitor's erasure takes the answers keyed by their words with it.
func (c *Cache) Forget(questions, scopes []string) int {
	return c.ForgetHashed(ForgetKeys(questions, scopes))
}

// Forgotten names the answers Forget drops by the hashes the cache keeps,
// not the words: what an erasure tells the other nodes of a cluster.
type Forgotten struct {
	Questions []string `json:"questions,omitempty"`
	Scopes    []string `json:"scopes,omitempty"`
}

// ForgetKeys hashes questions and scopes as Forget compares them.
func ForgetKeys(questions, scopes []string) Forgotten {
	var f Forgotten
	for _, q := range questions {
		if q = NormalizeQuestion(q); q != "" {
			f.Questions = append(f.Questions, sum(q))
		}
	}
	for _, sc := range scopes {
		if sc != "" {
			f.Scopes = append(f.Scopes, sum(sc))
		}
	}
	return f
}

// ForgetHashed is Forget given the hashes (ForgetKeys).
func (c *Cache) ForgetHashed(f Forgotten) int {
	drop := map[string]bool{}
	for _, q := range f.Questions {
		drop[q] = true
	}
	dropScope := map[string]bool{}
	for _, sc := range f.Scopes {
		dropScope[sc] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for id, el := range c.items {
		e := el.Value.(*cacheEntry)
		if drop[e.question] || dropScope[e.scope] {
			c.order.Remove(el)
			delete(c.items, id)
			n++
		}
	}
	return n
}

// Purge empties the cache (e.g. after the admin changed the intents).
func (c *Cache) Purge() {
	c.mu.Lock()
	c.order.Init()
	clear(c.items)
	c.mu.Unlock()
}

// Stats returns hits, misses and the number of entries.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	n := c.order.Len()
	c.mu.Unlock()
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Entries: n}
}
