package mail

import (
	"crypto/hmac"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"time"

	"github.com/kefuhq/kefu/relay/internal/auth"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/i18n"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// View is GET and PUT /v1/admin/mail's answer.
type View struct {
	Settings    Settings `json:"settings"`
	HasPassword bool     `json:"has_password"`
	Outbox      Outbox   `json:"outbox"`
	// InboundURL is where the shop's mail server posts replies to
	// notification mails (raw RFC 5322); secret, like a password.
	InboundURL string `json:"inbound_url"`
}

// Outbox is the state of the mail outbox, for the admin page.
type Outbox struct {
	Pending     int        `json:"pending"`
	Failed      int        `json:"failed"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	LastSentAt  *time.Time `json:"last_sent_at,omitempty"`
	// Dropped counts mails not sent since the relay started because
	// there was no longer a reason to (the visitor was back in the chat,
	// had unsubscribed, or was erased).
	Dropped int `json:"dropped"`
	// Oldest is when the oldest mail waiting was queued.
	Oldest *time.Time `json:"oldest,omitempty"`
}

// patch is PUT /v1/admin/mail's body: the settings, and the password
// when it changes (absent keeps it, "" removes it).
type patch struct {
	Settings
	Password *string `json:"password"`
}

// status reads the outbox.
func (s *Service) status() (Outbox, error) {
	docs, err := s.st.Docs(kindJob)
	if err != nil {
		return Outbox{}, err
	}
	var o Outbox
	for _, d := range docs {
		var j job
		if json.Unmarshal(d.Data, &j) != nil {
			continue
		}
		if j.Failed {
			o.Failed++
			continue
		}
		o.Pending++
		if o.Oldest == nil || j.Created.Before(*o.Oldest) {
			c := j.Created
			o.Oldest = &c
		}
	}
	s.statMu.Lock()
	defer s.statMu.Unlock()
	o.LastError = s.lastErr
	o.Dropped = s.dropped
	if !s.lastErrAt.IsZero() && s.lastErr != "" {
		t := s.lastErrAt
		o.LastErrorAt = &t
	}
	if !s.lastSent.IsZero() {
		t := s.lastSent
		o.LastSentAt = &t
	}
	return o, nil
}

func (s *Service) view() (View, error) {
	set, has := s.Settings()
	o, err := s.status()
	return View{Settings: set, HasPassword: has, Outbox: o, InboundURL: set.BaseURL + "/v1/mail/inbound/" + string(s.inboundKey)}, err
}

// Routes registers the admin's GET and PUT /v1/admin/mail and POST
// /v1/admin/mail/test, and the visitors' unsubscribe link
// /v1/mail/unsubscribe.
func (s *Service) Routes(mux httpx.Mux, authn *auth.HTTP) {
	admin := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, authn.Require(store.RoleAdmin, h)) }
	admin("GET /v1/admin/mail", func(w http.ResponseWriter, r *http.Request) {
		v, err := s.view()
		if err != nil {
			s.opts.Log.Error("mail: outbox status", "err", err)
			httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "")
			return
		}
		httpx.JSON(w, http.StatusOK, v)
	})
	admin("PUT /v1/admin/mail", func(w http.ResponseWriter, r *http.Request) {
		var p patch
		if err := httpx.DecodeJSON(w, r, 16<<10, &p); err != nil {
			return
		}
		if err := s.SetSettings(r.Context(), p.Settings, p.Password); err != nil {
			var pe *protocol.Error
			if errors.As(err, &pe) {
				httpx.Error(w, http.StatusBadRequest, pe.Code, pe.Message)
				return
			}
			s.opts.Log.Error("mail: store settings", "err", err)
			httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "could not save the change; try again")
			return
		}
		s.opts.Log.Info("mail: settings changed", "enabled", p.Enabled, "host", p.Host, "password_changed", p.Password != nil)
		v, _ := s.view()
		httpx.JSON(w, http.StatusOK, v)
	})
	admin("POST /v1/admin/mail/test", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			To string `json:"to"`
		}
		if err := httpx.DecodeJSON(w, r, 4096, &body); err != nil {
			return
		}
		err := s.SendTest(r.Context(), body.To)
		var pe *protocol.Error
		switch {
		case err == nil:
			httpx.JSON(w, http.StatusOK, map[string]any{"sent": true, "to": body.To})
		case errors.As(err, &pe):
			httpx.Error(w, http.StatusBadRequest, pe.Code, pe.Message)
		case errors.Is(err, ErrNotConfigured):
			httpx.Error(w, http.StatusConflict, protocol.CodeConflict, err.Error())
		default:
			// The SMTP server's own words: what the admin needs to fix it.
			httpx.Error(w, http.StatusBadGateway, protocol.CodeSMTP, "the test mail was not sent: "+err.Error())
		}
	})
	mux.HandleFunc("POST /v1/mail/inbound/{key}", s.inbound)
	mux.HandleFunc("GET /v1/mail/unsubscribe", s.unsubscribe)
	mux.HandleFunc("POST /v1/mail/unsubscribe", s.unsubscribe)
}

var unsubPage = template.Must(template.New("u").Parse(`<!doctype html>
<html lang="{{.Lang}}" dir="{{.Dir}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.Title}}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem">
{{if .Done}}<p>{{.Done}}</p>{{else}}<form method="post"><button type="submit" style="font:inherit;padding:.5rem 1rem">{{.Title}}</button></form>{{end}}
</body></html>
`))

// unsubscribe is the link in visitor mails: GET shows a button (mail
// scanners follow links; only a POST unsubscribes), POST (the button, or a
// mail client's one-click List-Unsubscribe-Post) does it.
func (s *Service) unsubscribe(w http.ResponseWriter, r *http.Request) {
	id, tok := r.URL.Query().Get("v"), r.URL.Query().Get("t")
	if id == "" || !hmac.Equal([]byte(tok), []byte(s.unsubscribeToken(id))) {
		http.Error(w, "This unsubscribe link is not valid.", http.StatusNotFound)
		return
	}
	v, err := s.st.Visitor(id)
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "This unsubscribe link is not valid any more.", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, "Please try again in a moment.", http.StatusServiceUnavailable)
		return
	}
	lang := v.Lang
	cat := i18n.Builtin()
	if !cat.Has(lang) {
		lang = i18n.Fallback
	}
	page := struct{ Lang, Dir, Title, Done string }{Lang: lang, Dir: cat.Catalogue(lang).Dir, Title: cat.Relay(lang, "mailUnsubscribe")}
	if r.Method == http.MethodPost {
		_, err := s.st.UpdateVisitor(r.Context(), id, func(v *store.Visitor) error {
			if v.Contact != nil {
				v.Contact.Unsubscribed = true
			}
			return nil
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			http.Error(w, "Please try again in a moment.", http.StatusServiceUnavailable)
			return
		}
		s.opts.Log.Info("mail: a visitor unsubscribed", "visitor", id)
		page.Done = cat.Relay(lang, "mailUnsubscribed")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	unsubPage.Execute(w, page)
}
