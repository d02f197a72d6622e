package search

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/auth"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/kefuhq/kefu/router"
)

// Routes registers the console's endpoints (any signed-in account;
// docs/console.md):
//
//	GET  /v1/agent/search?q=&tag=&agent=&status=&from=&to=&offset=&limit=  → Result
//	GET  /v1/agent/tags                         → {"tags":[{tag,count}],"conversations":{id:[tags]}}
//	POST /v1/agent/conversations/{id}/tags     {"add":[…],"remove":[…]} → {"conversation_id","tags"}
func (s *Service) Routes(mux httpx.Mux, authn *auth.HTTP) {
	agent := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, authn.Require("", h)) }
	agent("GET /v1/agent/search", s.search)
	agent("GET /v1/agent/tags", func(w http.ResponseWriter, r *http.Request) {
		httpx.JSON(w, http.StatusOK, map[string]any{"tags": s.idx.TagsInUse(), "conversations": s.idx.Tagged()})
	})
	agent("POST /v1/agent/conversations/{id}/tags", s.changeTags)
}

func (s *Service) search(w http.ResponseWriter, r *http.Request) {
	q, offset, limit, err := ParseQuery(r.URL.Query())
	if err != nil {
		httpx.Error(w, http.StatusBadRequest, protocol.CodeBadField, err.Error())
		return
	}
	res, err := s.Search(q, offset, limit)
	switch {
	case errors.Is(err, ErrBuilding):
		w.Header().Set("Retry-After", "2")
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, err.Error())
		return
	case err != nil:
		s.opts.Log.Error("search: query", "err", err)
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "")
		return
	}
	httpx.JSON(w, http.StatusOK, res)
}

// ParseQuery reads a search's parameters, refusing what it cannot mean
// with a message that says what is wrong.
func ParseQuery(v url.Values) (q Query, offset, limit int, err error) {
	for k := range v {
		switch k {
		case "q", "tag", "agent", "status", "from", "to", "offset", "limit":
		default:
			return q, 0, 0, fmt.Errorf("unknown parameter %q: use q, tag, agent, status, from, to, offset and limit", k)
		}
	}
	q.Text = strings.TrimLeft(v.Get("q"), " \t\n")
	if len(q.Text) > MaxQuery {
		return q, 0, 0, fmt.Errorf("q is %d bytes; at most %d", len(q.Text), MaxQuery)
	}
	if !utf8.ValidString(q.Text) {
		return q, 0, 0, errors.New("q is not valid UTF-8")
	}
	if strings.TrimSpace(q.Text) != "" {
		n := 0
		router.Terms(q.Text, 0, func(string) { n++ })
		if n == 0 {
			return q, 0, 0, fmt.Errorf("q %q has no words to search for (letters or digits)", q.Text)
		}
	}
	for _, t := range v["tag"] {
		n, err := store.NormaliseTag(t)
		if err != nil {
			return q, 0, 0, err
		}
		q.Tags = append(q.Tags, n)
	}
	if len(q.Tags) > store.MaxTags {
		return q, 0, 0, fmt.Errorf("at most %d tags", store.MaxTags)
	}
	q.Agent = v.Get("agent")
	if len(q.Agent) > protocol.MaxIDLen {
		return q, 0, 0, fmt.Errorf("agent is an account id of at most %d characters", protocol.MaxIDLen)
	}
	for _, st := range v["status"] {
		if !slices.Contains(Statuses, st) {
			return q, 0, 0, fmt.Errorf("status %q is not one of %s", st, strings.Join(Statuses, ", "))
		}
		if !slices.Contains(q.Status, st) {
			q.Status = append(q.Status, st)
		}
	}
	if q.From, err = parseDay(v.Get("from"), "from", false); err != nil {
		return q, 0, 0, err
	}
	if q.To, err = parseDay(v.Get("to"), "to", true); err != nil {
		return q, 0, 0, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, 0, 0, fmt.Errorf("from (%s) must be before to (%s)", v.Get("from"), v.Get("to"))
	}
	if offset, err = parseInt(v.Get("offset"), "offset", 0, 0, MaxOffset); err != nil {
		return q, 0, 0, err
	}
	if limit, err = parseInt(v.Get("limit"), "limit", DefaultLimit, 1, MaxLimit); err != nil {
		return q, 0, 0, err
	}
	return q, offset, limit, nil
}

// parseDay reads a date (2006-01-02, a whole day in UTC: "to" includes
// it) or a time (RFC 3339).
func parseDay(s, name string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not a date (2006-01-02) or a time (2006-01-02T15:04:05Z)", name, s)
	}
	return t, nil
}

func parseInt(s, name string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be a whole number from %d to %d", name, lo, hi)
	}
	return n, nil
}

func (s *Service) changeTags(w http.ResponseWriter, r *http.Request) {
	var ch TagsChange
	if err := httpx.DecodeJSON(w, r, 8<<10, &ch); err != nil {
		return
	}
	id := r.PathValue("id")
	p := auth.FromContext(r.Context())
	tags, err := s.ChangeTags(r.Context(), id, ch, p.Account)
	var pe *protocol.Error
	switch {
	case errors.As(err, &pe):
		httpx.Error(w, http.StatusBadRequest, pe.Code, pe.Message)
		return
	case errors.Is(err, store.ErrNotFound):
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "no such conversation")
		return
	case errors.Is(err, store.ErrTooMany):
		httpx.Error(w, http.StatusConflict, protocol.CodeConflict, fmt.Sprintf("a conversation has at most %d tags", store.MaxTags))
		return
	case err != nil:
		s.opts.Log.Error("search: change tags", "conversation", id, "err", err)
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "")
		return
	}
	if tags == nil {
		tags = []string{}
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"conversation_id": id, "tags": tags})
}
