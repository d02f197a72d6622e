package admin

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Paging of the conversation list.
const (
	defaultPageSize = 50
	maxPageSize     = 200
	maxQueryBytes   = 200 // a search is a few words
	snippetLen      = 140
)

// convView is a conversation in the admin list.
type convView struct {
	ID        string            `json:"id"`
	VisitorID string            `json:"visitor_id"`
	Status    string            `json:"status"`
	Handler   string            `json:"handler"`
	AgentID   string            `json:"agent_id,omitempty"`
	AgentName string            `json:"agent_name,omitempty"`
	Intent    string            `json:"intent,omitempty"`
	Preview   string            `json:"preview"`
	LastSeq   uint64            `json:"last_seq"`
	CreatedAt int64             `json:"created_at"` // Unix ms
	UpdatedAt int64             `json:"updated_at"` // Unix ms
	Traits    map[string]string `json:"traits,omitempty"`
	Match     string            `json:"match,omitempty"` // the first message matching q
}

// messageView is one transcript line; ts is Unix ms as on the sockets.
type messageView struct {
	Seq        uint64 `json:"seq"`
	From       string `json:"from"`
	Author     string `json:"author,omitempty"`
	Text       string `json:"text"`
	TS         int64  `json:"ts"`
	Intent     string `json:"intent,omitempty"`
	Via        string `json:"via,omitempty"`
	Incomplete bool   `json:"incomplete,omitempty"`
	// The file a message carries (served to admins at the agents' path)
	// and a visitor's rating.
	Attachment *protocol.Attachment `json:"attachment,omitempty"`
	Rating     *protocol.Rating     `json:"rating,omitempty"`
	// The page a visitor's message was written on (visitor context).
	PageURL   string `json:"page_url,omitempty"`
	PageTitle string `json:"page_title,omitempty"`
}

// convFilter is the list's query string.
type convFilter struct {
	status, handler, agent, intent, q string
	offset, limit                     int
}

func parseConvFilter(r *http.Request) (convFilter, string) {
	v := r.URL.Query()
	f := convFilter{status: v.Get("status"), handler: v.Get("handler"), agent: v.Get("agent"),
		intent: v.Get("intent"), q: strings.TrimSpace(v.Get("q")), limit: defaultPageSize}
	switch {
	case f.status != "" && f.status != store.StatusOpen && f.status != store.StatusClosed:
		return f, `status must be "open" or "closed"`
	case f.handler != "" && f.handler != store.HandlerBot && f.handler != store.HandlerQueue && f.handler != store.HandlerAgent:
		return f, `handler must be "bot", "queue" or "agent"`
	case len(f.q) > maxQueryBytes || !utf8.ValidString(f.q):
		return f, "q must be at most 200 bytes of text"
	}
	for name, dst := range map[string]*int{"offset": &f.offset, "limit": &f.limit} {
		if s := v.Get(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return f, name + " must be a whole number ≥ 0"
			}
			*dst = n
		}
	}
	if f.limit == 0 || f.limit > maxPageSize {
		return f, "limit must be between 1 and 200"
	}
	return f, ""
}

// keep applies the filters a conversation record answers alone.
func (f convFilter) keep(c *store.Conversation) bool {
	return c.LastSeq > 0 && // a visitor who opened the chat and wrote nothing
		(f.status == "" || c.Status == f.status) &&
		(f.handler == "" || c.Handler == f.handler) &&
		(f.agent == "" || c.AgentID == f.agent) &&
		(f.intent == "" || c.Intent == f.intent)
}

// listConversations lists conversations, newest activity first. The
// record filters cost one scan of the conversations; q also reads every
// message of those that pass (docs/admin.md has the figures).
func (a *Admin) listConversations(w http.ResponseWriter, r *http.Request) {
	f, problem := parseConvFilter(r)
	if problem != "" {
		badField(w, problem)
		return
	}
	convs, err := a.d.Store.Conversations(f.keep)
	if err != nil {
		a.fail(w, r, "list conversations", err)
		return
	}
	matches := map[string]string{}
	if f.q != "" {
		kept := convs[:0]
		for _, c := range convs {
			m, ok, err := a.search(c.ID, f.q)
			if err != nil {
				a.fail(w, r, "search conversations", err)
				return
			}
			if ok {
				kept = append(kept, c)
				matches[c.ID] = m
			}
		}
		convs = kept
	}
	total := len(convs)
	page := convs[min(f.offset, total):min(f.offset+f.limit, total)]
	names := a.accountNames()
	out := make([]convView, 0, len(page))
	for _, c := range page {
		v := a.convView(c, names)
		v.Match = matches[c.ID]
		out = append(out, v)
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"conversations": out, "total": total, "offset": f.offset, "limit": f.limit})
}

// search reports whether a message of the conversation contains q (any
// case), and a snippet of the first one that does.
func (a *Admin) search(convID, q string) (string, bool, error) {
	msgs, err := a.d.Store.Messages(convID, 0, 0)
	if err != nil {
		return "", false, err
	}
	lq := strings.ToLower(q)
	for _, m := range msgs {
		if strings.Contains(strings.ToLower(m.Text), lq) {
			return clip(m.Text, snippetLen), true, nil
		}
	}
	return "", false, nil
}

func (a *Admin) convView(c store.Conversation, names map[string]string) convView {
	v := convView{ID: c.ID, VisitorID: c.VisitorID, Status: c.Status, Handler: c.Handler, AgentID: c.AgentID,
		AgentName: names[c.AgentID], Intent: c.Intent, Preview: c.Preview, LastSeq: c.LastSeq,
		CreatedAt: c.CreatedAt.UnixMilli(), UpdatedAt: c.UpdatedAt.UnixMilli()}
	if vis, err := a.d.Store.Visitor(c.VisitorID); err == nil {
		v.Traits = vis.Traits // what the host page said (identify): a nicety, shown as text
	}
	return v
}

// accountNames maps account ids to display names (also for disabled
// accounts, whose old chats still name them).
func (a *Admin) accountNames() map[string]string {
	names := map[string]string{}
	accts, err := a.d.Store.Accounts()
	if err != nil {
		a.d.Log.Warn("admin: account names", "err", err)
		return names
	}
	for _, acct := range accts {
		names[acct.ID] = acct.Name
	}
	return names
}

// getConversation is one conversation with the visitor's traits and the
// whole transcript.
func (a *Admin) getConversation(w http.ResponseWriter, r *http.Request) {
	c, err := a.d.Store.Conversation(r.PathValue("id"))
	if err != nil {
		a.fail(w, r, "conversation", err)
		return
	}
	msgs, err := a.d.Store.Messages(c.ID, 0, 0)
	if err != nil {
		a.fail(w, r, "transcript", err)
		return
	}
	out := make([]messageView, 0, len(msgs))
	for _, m := range msgs {
		wire := chat.MessageOf(m)
		out = append(out, messageView{Seq: m.Seq, From: m.From, Author: m.Author, Text: m.Text, TS: m.Time.UnixMilli(),
			Intent: m.Intent, Via: m.Via, Incomplete: m.Incomplete, Attachment: wire.Attachment, Rating: wire.Rating,
			PageURL: wire.PageURL, PageTitle: wire.PageTitle})
	}
	// Agents' internal notes, with the transcript they annotate.
	stored, err := a.d.Store.Notes(c.ID)
	if err != nil {
		a.fail(w, r, "notes", err)
		return
	}
	notes := make([]protocol.Note, 0, len(stored))
	for _, n := range stored {
		notes = append(notes, protocol.Note{Type: protocol.TypeNote, ConversationID: c.ID, ID: n.ID, AuthorID: n.AuthorID,
			Author: n.Author, Text: n.Text, TS: n.Time.UnixMilli(), AfterSeq: n.AfterSeq})
	}
	visitor := map[string]any{"id": c.VisitorID, "traits": map[string]string{}}
	if vis, err := a.d.Store.Visitor(c.VisitorID); err == nil {
		visitor["created_at"] = vis.CreatedAt.UnixMilli()
		if vis.Traits != nil {
			visitor["traits"] = vis.Traits
		}
		if vis.Context != nil {
			visitor["context"] = vis.Context
		}
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"conversation": a.convView(c, a.accountNames()), "visitor": visitor, "messages": out, "notes": notes})
}

// clip shortens s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
