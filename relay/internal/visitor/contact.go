package visitor

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// ContactBody is POST /v1/conversations/{id}/contact: how a visitor asks
// to be reached when nobody can answer in the chat.
type ContactBody struct {
	Email      string `json:"email"`
	Name       string `json:"name"`
	Transcript bool   `json:"transcript"`
	Page       string `json:"page"`
}

// Bounds of a contact.
const (
	maxEmail = 254
	maxName  = 100
	maxPage  = 2000
)

// CheckEmail accepts one bare address (ann@example.com): a local part and
// a domain, each words of RFC 5322's atom characters (or any character
// beyond ASCII, RFC 6532) joined by single dots, a dot in the domain, at
// most 254 bytes. No display name, quoted local part, comment, IP literal,
// list or white space inside. It links no net/mail (the edge build's size,
// docs/decisions.md, issue 17), yet every address it takes net/mail's
// ParseAddress takes as the same bare address, and it takes every one the
// relay took with ParseAddress but IP literals (FuzzCheckEmail).
func CheckEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	local, domain, _ := strings.Cut(s, "@")
	if len(s) > maxEmail || !dotAtom(local) || !dotAtom(domain) || !strings.Contains(domain, ".") {
		return "", protocol.Errorf(protocol.CodeBadField, "email must be one address like ann@example.com")
	}
	return s, nil
}

// dotAtom reports whether s is RFC 5322's dot-atom-text: atoms of atext
// (printable ASCII but the specials, or valid UTF-8 beyond ASCII) joined
// by single dots.
func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c < '!' || c > '~' || strings.IndexByte(`()<>[]:;@\,"`, c) >= 0 {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return false
		}
		i += n
	}
	return true
}

// check returns the contact to store, or a clear error.
func (b ContactBody) check(now time.Time) (store.Contact, error) {
	email, err := CheckEmail(b.Email)
	if err != nil {
		return store.Contact{}, err
	}
	name := strings.TrimSpace(b.Name)
	if utf8.RuneCountInString(name) > maxName || strings.IndexFunc(name, unicode.IsControl) >= 0 || !utf8.ValidString(name) {
		return store.Contact{}, protocol.Errorf(protocol.CodeBadField, "name must be at most 100 characters on one line")
	}
	page := strings.TrimSpace(b.Page)
	if page != "" {
		u, err := url.Parse(page)
		if err != nil || len(page) > maxPage || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return store.Contact{}, protocol.Errorf(protocol.CodeBadField, "page must be the http(s) address of the page, at most 2000 characters")
		}
		u.Fragment = ""
		page = u.String()
	}
	return store.Contact{Email: email, Name: name, Transcript: b.Transcript, Page: page, At: now}, nil
}

// contactHTTP is POST /v1/conversations/{id}/contact: stores the email
// (and optional name) on the visitor, so the team's reply reaches them
// after they left. Sending it again replaces it (and subscribes again).
func (h *Handler) contactHTTP(w http.ResponseWriter, r *http.Request) {
	s, ok := h.sessionFor(w, r)
	if !ok {
		return
	}
	if !h.visitors.Allow(s.VisitorID) {
		httpx.Error(w, http.StatusTooManyRequests, protocol.CodeRateLimited, "")
		return
	}
	var body ContactBody
	if err := httpx.DecodeJSON(w, r, 4096, &body); err != nil {
		return
	}
	c, err := body.check(time.Now())
	if err != nil {
		writeProtocolError(w, err)
		return
	}
	_, err = h.store.UpdateVisitor(r.Context(), s.VisitorID, func(v *store.Visitor) error { v.Contact = &c; return nil })
	if errors.Is(err, store.ErrNotFound) {
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "no such conversation")
		return
	}
	if err != nil {
		h.log.Error("visitor http: store contact", "err", err)
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "could not save your email; try again")
		return
	}
	h.log.Info("visitor: left a contact", "conversation", s.ConversationID, "transcript", c.Transcript)
	httpx.JSON(w, http.StatusOK, map[string]any{"email": c.Email, "name": c.Name, "transcript": c.Transcript})
}
