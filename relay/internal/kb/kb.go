// Package kb is the business's knowledge base: articles an admin writes
// (a title and a markdown body) or pastes from a page of their site (the
// text and its address). They are stored beside the intents, split into
// passages and indexed with the router's TF-IDF machinery; the AI's
// answers are grounded on the passages that best match the question, and
// link back to their article.
package kb

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/kefuhq/kefu/router"
)

// Setting names in the store.
const (
	SettingArticles = "kb"         // doc: version and the articles
	settingVersion  = "kb.version" // the version alone, cheap to poll
)

// Limits on what an admin can store.
const (
	MaxArticles  = 500
	MaxTitle     = 200
	MaxBody      = 64 << 10
	MaxURL       = 2000
	passageRunes = 700 // a passage: a few paragraphs, about 150 words
	// minScore is the least cosine a passage needs to ground an answer: a
	// passage that shares only a common word is noise in the prompt.
	minScore = 0.12
	// recheck is how often a node looks whether another node of a cluster
	// changed the articles (one small read).
	recheck = 5 * time.Second
)

// Errors.
var (
	ErrNotFound = errors.New("kb: no such article")
	ErrInvalid  = errors.New("kb: invalid article")
	ErrFull     = errors.New("kb: too many articles")
)

// Article is one article of the knowledge base.
type Article struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Body    string    `json:"body"`          // markdown, or text pasted from a page
	URL     string    `json:"url,omitempty"` // where the article lives on the business's site; "" for the relay's /help/{id}
	Updated time.Time `json:"updated"`
}

// Link is where a visitor reads the article: its own address, or the
// relay's help page.
func (a Article) Link() string {
	if a.URL != "" {
		return a.URL
	}
	return "/help/" + a.ID
}

type doc struct {
	Version  uint64    `json:"version"`
	Articles []Article `json:"articles"`
}

// passage is one retrievable piece of an article.
type passage struct {
	article int // index in gen.articles
	text    string
}

// gen is one immutable generation of the knowledge base.
type gen struct {
	version  uint64
	articles []Article
	passages []passage
	index    *router.Passages // nil without passages
}

// Service holds the articles and their index. Reads are lock-free.
type Service struct {
	store   store.Settings
	log     *slog.Logger
	now     func() time.Time
	cur     atomic.Pointer[gen]
	writeMu sync.Mutex
	checked atomic.Int64 // unix nanos of the last version check
}

// Open loads the stored articles and indexes them.
func Open(st store.Settings, log *slog.Logger, now func() time.Time) (*Service, error) {
	if now == nil {
		now = time.Now
	}
	s := &Service{store: st, log: log, now: now}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) reload() error {
	var d doc
	if _, err := s.store.Setting(SettingArticles, &d); err != nil {
		return fmt.Errorf("kb: load: %w", err)
	}
	g, err := build(d)
	if err != nil {
		return err
	}
	s.cur.Store(g)
	s.checked.Store(s.now().UnixNano())
	return nil
}

// fresh returns the current generation, reloading it first when another
// node of a cluster stored a newer one (checked at most every recheck).
func (s *Service) fresh() *gen {
	g := s.cur.Load()
	last := s.checked.Load()
	now := s.now().UnixNano()
	if now-last < int64(recheck) || !s.checked.CompareAndSwap(last, now) {
		return g
	}
	var v uint64
	if _, err := s.store.Setting(settingVersion, &v); err != nil || v <= g.version {
		return g
	}
	if err := s.reload(); err != nil {
		s.log.Warn("kb: reload", "err", err)
	}
	return s.cur.Load()
}

func build(d doc) (*gen, error) {
	g := &gen{version: d.Version, articles: d.Articles}
	var texts []string
	for i, a := range d.Articles {
		for _, p := range split(a.Body) {
			g.passages = append(g.passages, passage{article: i, text: p})
			// The title is part of what a question matches.
			texts = append(texts, a.Title+"\n"+p)
		}
	}
	if len(texts) > 0 {
		ix, err := router.IndexPassages(texts)
		if err != nil {
			return nil, fmt.Errorf("kb: index: %w", err)
		}
		g.index = ix
	}
	return g, nil
}

// split cuts a body into passages: paragraphs (blank lines) gathered up to
// passageRunes; a heading line starts a new passage; a paragraph longer
// than that is cut at sentence ends.
func split(body string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if t := strings.TrimSpace(cur.String()); t != "" {
			out = append(out, t)
		}
		cur.Reset()
	}
	for _, para := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n\n") {
		para = strings.TrimSpace(para)
		if para == "" {
			continue
		}
		if strings.HasPrefix(para, "#") {
			flush()
		}
		for _, piece := range pieces(para) {
			if cur.Len() > 0 && utf8.RuneCountInString(cur.String())+utf8.RuneCountInString(piece) > passageRunes {
				flush()
			}
			if cur.Len() > 0 {
				cur.WriteString("\n\n")
			}
			cur.WriteString(piece)
		}
	}
	flush()
	return out
}

// pieces cuts an over-long paragraph after sentence ends.
func pieces(para string) []string {
	if utf8.RuneCountInString(para) <= passageRunes {
		return []string{para}
	}
	var out []string
	var cur []rune
	for _, r := range para {
		cur = append(cur, r)
		end := r == '.' || r == '!' || r == '?' || r == '。' || r == '！' || r == '？'
		if len(cur) >= passageRunes || end && len(cur) >= passageRunes/2 {
			out = append(out, strings.TrimSpace(string(cur)))
			cur = cur[:0]
		}
	}
	if t := strings.TrimSpace(string(cur)); t != "" {
		out = append(out, t)
	}
	return out
}

// List returns the articles, in the order they were added.
func (s *Service) List() []Article {
	return append([]Article(nil), s.fresh().articles...)
}

// Get returns one article.
func (s *Service) Get(id string) (Article, error) {
	for _, a := range s.fresh().articles {
		if a.ID == id {
			return a, nil
		}
	}
	return Article{}, ErrNotFound
}

// Version identifies the current articles (the answer cache's key).
func (s *Service) Version() string { return strconv.FormatUint(s.fresh().version, 10) }

// Validate checks an article an admin sends and tidies it (spaces
// trimmed); the error names every field that is wrong.
func Validate(a Article) (Article, error) {
	a.Title = strings.TrimSpace(a.Title)
	a.Body = strings.TrimSpace(strings.ReplaceAll(a.Body, "\r\n", "\n"))
	a.URL = strings.TrimSpace(a.URL)
	var errs []string
	switch {
	case a.Title == "":
		errs = append(errs, "title: required")
	case utf8.RuneCountInString(a.Title) > MaxTitle || !utf8.ValidString(a.Title) || strings.ContainsAny(a.Title, "\n\r"):
		errs = append(errs, fmt.Sprintf("title: one line of at most %d characters", MaxTitle))
	}
	switch {
	case a.Body == "":
		errs = append(errs, "body: required (the article's text, or the page's text pasted)")
	case len(a.Body) > MaxBody || !utf8.ValidString(a.Body):
		errs = append(errs, fmt.Sprintf("body: at most %d bytes of UTF-8", MaxBody))
	}
	if a.URL != "" {
		u, err := url.Parse(a.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(a.URL) > MaxURL {
			errs = append(errs, "url: an http(s) address of the page the text comes from, or nothing")
		}
	}
	if len(errs) > 0 {
		return a, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return a, nil
}

// Put adds an article (empty ID) or replaces one, and returns it as
// stored.
func (s *Service) Put(ctx context.Context, a Article) (Article, error) {
	a, err := Validate(a)
	if err != nil {
		return Article{}, err
	}
	err = s.change(ctx, func(list []Article) ([]Article, error) {
		a.Updated = s.now().UTC()
		if a.ID == "" {
			if len(list) >= MaxArticles {
				return nil, fmt.Errorf("%w (at most %d)", ErrFull, MaxArticles)
			}
			a.ID = newID()
			return append(list, a), nil
		}
		for i := range list {
			if list[i].ID == a.ID {
				list[i] = a
				return list, nil
			}
		}
		return nil, ErrNotFound
	})
	return a, err
}

// Delete removes an article.
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.change(ctx, func(list []Article) ([]Article, error) {
		for i := range list {
			if list[i].ID == id {
				return append(list[:i:i], list[i+1:]...), nil
			}
		}
		return nil, ErrNotFound
	})
}

// change applies fn to the stored articles (read afresh, so a cluster's
// nodes do not overwrite each other's recent changes) and stores the
// result under the next version.
func (s *Service) change(ctx context.Context, fn func([]Article) ([]Article, error)) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var d doc
	if _, err := s.store.Setting(SettingArticles, &d); err != nil {
		return fmt.Errorf("kb: load: %w", err)
	}
	list, err := fn(append([]Article(nil), d.Articles...))
	if err != nil {
		return err
	}
	next := doc{Version: d.Version + 1, Articles: list}
	g, err := build(next)
	if err != nil {
		return err
	}
	if err := s.store.PutSetting(ctx, SettingArticles, next); err != nil {
		return fmt.Errorf("kb: store: %w", err)
	}
	if err := s.store.PutSetting(ctx, settingVersion, next.Version); err != nil {
		return fmt.Errorf("kb: store version: %w", err)
	}
	s.cur.Store(g)
	return nil
}

// Hit is a passage retrieved for a question, for the admin's try box.
type Hit struct {
	ArticleID string  `json:"article_id"`
	Title     string  `json:"title"`
	URL       string  `json:"url"`
	Passage   string  `json:"passage"`
	Score     float64 `json:"score"`
}

// Search returns the k passages that best match question.
func (s *Service) Search(question string, k int) []Hit {
	g := s.fresh()
	if g.index == nil {
		return nil
	}
	var out []Hit
	for _, h := range g.index.Search(question, k, minScore) {
		p := g.passages[h.Doc]
		a := g.articles[p.article]
		out = append(out, Hit{ArticleID: a.ID, Title: a.Title, URL: a.Link(), Passage: p.text, Score: h.Score})
	}
	return out
}

// Passages grounds an answer: the k best passages as ai.GroundArticle
// entries with their article's title and link (bot.Knowledge).
func (s *Service) Passages(question string, k int) []ai.Grounding {
	var out []ai.Grounding
	for _, h := range s.Search(question, k) {
		out = append(out, ai.Grounding{Kind: ai.GroundArticle, Name: h.Title, Answer: h.Passage, URL: h.URL})
	}
	return out
}

func newID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// Routes registers GET /v1/kb/{id}: one article, public, for the help page
// an answer links to (/help/{id}).
func (s *Service) Routes(mux httpx.Mux) {
	mux.HandleFunc("GET /v1/kb/{id}", func(w http.ResponseWriter, r *http.Request) {
		a, err := s.Get(r.PathValue("id"))
		if err != nil {
			httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "no such article")
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		httpx.JSON(w, http.StatusOK, struct {
			ID    string `json:"id"`
			Title string `json:"title"`
			Body  string `json:"body"`
			URL   string `json:"url,omitempty"`
		}{a.ID, a.Title, a.Body, a.URL})
	})
}
