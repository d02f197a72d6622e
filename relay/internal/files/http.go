package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kefuhq/kefu/relay/internal/auth"
	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/limits"
	"github.com/kefuhq/kefu/relay/internal/origin"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/visitor"
	"github.com/kefuhq/kefu/relay/protocol"
)

// HTTP is the attachments' HTTP API: the visitor's under
// /v1/conversations/{id}/ (bearer token, CORS for the allowed sites) and
// the agents' under /v1/agent/conversations/{id}/ (session cookie, CSRF
// token on changes). docs/protocol.md, "Attachments".
type HTTP struct {
	Svc     *Service
	Auth    *auth.HTTP
	Origins *origin.Policy
	// perSender bounds the requests one visitor or agent makes (parts
	// included): 20 a second, bursts of 40, far above what an upload at
	// full speed needs.
	perSender *limits.Keyed
}

// NewHTTP builds the API over svc.
func NewHTTP(svc *Service, authn *auth.HTTP, origins *origin.Policy) *HTTP {
	return &HTTP{Svc: svc, Auth: authn, Origins: origins, perSender: limits.NewKeyed(20, 40, nil)}
}

// Routes registers the endpoints; cors wraps the visitor's.
func (h *HTTP) Routes(mux httpx.Mux, cors func(http.Handler) http.Handler) {
	v := func(fn func(http.ResponseWriter, *http.Request, string, Sender)) http.Handler {
		return cors(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.asVisitor(w, r, fn) }))
	}
	a := func(fn func(http.ResponseWriter, *http.Request, string, Sender)) http.Handler {
		return h.Auth.Require(store.RoleAgent, func(w http.ResponseWriter, r *http.Request) { h.asAgent(w, r, fn) })
	}
	for _, side := range []struct {
		prefix string
		wrap   func(func(http.ResponseWriter, *http.Request, string, Sender)) http.Handler
	}{{"/v1/conversations/{id}", v}, {"/v1/agent/conversations/{id}", a}} {
		mux.Handle("POST "+side.prefix+"/uploads", side.wrap(h.create))
		mux.Handle("GET "+side.prefix+"/uploads/{upload}", side.wrap(h.status))
		mux.Handle("POST "+side.prefix+"/uploads/{upload}", side.wrap(h.put))
		mux.Handle("POST "+side.prefix+"/uploads/{upload}/cancel", side.wrap(h.cancel))
		mux.Handle("GET "+side.prefix+"/attachments/{att}", side.wrap(h.serve))
	}
	preflight := cors(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.Error(w, http.StatusForbidden, protocol.CodeOriginNotAllowed, "")
	}))
	mux.Handle("OPTIONS /v1/conversations/{id}/{what}/{x}", preflight)
	mux.Handle("OPTIONS /v1/conversations/{id}/{what}/{x}/{y}", preflight)
}

// asVisitor admits the visitor whose token the request carries to their
// own conversation (someone else's is not found).
func (h *HTTP) asVisitor(w http.ResponseWriter, r *http.Request, fn func(http.ResponseWriter, *http.Request, string, Sender)) {
	if !h.Origins.Admit(r.Header.Get("Origin"), r.Host) {
		httpx.Error(w, http.StatusForbidden, protocol.CodeOriginNotAllowed, "")
		return
	}
	if !h.Svc.Enabled() {
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotSupported, "this relay takes no attachments")
		return
	}
	tok := visitor.Bearer(r)
	if tok == "" {
		httpx.Error(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "send the visitor token as Authorization: Bearer <token>")
		return
	}
	v, err := h.Svc.st.VisitorByToken(visitor.TokenHash(tok))
	if errors.Is(err, store.ErrNotFound) {
		httpx.Error(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "unknown visitor token")
		return
	}
	if err != nil {
		h.fail(w, "visitor by token", err)
		return
	}
	if v.ConversationID != r.PathValue("id") {
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "no such conversation")
		return
	}
	if !h.perSender.Allow("v:" + v.ID) {
		httpx.Error(w, http.StatusTooManyRequests, protocol.CodeRateLimited, "")
		return
	}
	fn(w, r, v.ConversationID, Sender{From: protocol.FromVisitor})
}

// asAgent admits a signed-in agent to any conversation that exists.
func (h *HTTP) asAgent(w http.ResponseWriter, r *http.Request, fn func(http.ResponseWriter, *http.Request, string, Sender)) {
	if !h.Svc.Enabled() {
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotSupported, "this relay takes no attachments")
		return
	}
	p := auth.FromContext(r.Context())
	convID := r.PathValue("id")
	if _, err := h.Svc.st.Conversation(convID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "no such conversation")
		} else {
			h.fail(w, "conversation", err)
		}
		return
	}
	if !h.perSender.Allow("a:" + p.Account.ID) {
		httpx.Error(w, http.StatusTooManyRequests, protocol.CodeRateLimited, "")
		return
	}
	fn(w, r, convID, Sender{From: protocol.FromAgent, AuthorID: p.Account.ID, Author: p.Account.Name})
}

func (h *HTTP) create(w http.ResponseWriter, r *http.Request, convID string, by Sender) {
	var req CreateRequest
	if err := httpx.DecodeJSON(w, r, 4096, &req); err != nil {
		return
	}
	st, err := h.Svc.Create(r.Context(), convID, by, req)
	if err != nil {
		h.answerError(w, "create upload", err)
		return
	}
	httpx.JSON(w, http.StatusOK, st)
}

func (h *HTTP) status(w http.ResponseWriter, r *http.Request, convID string, _ Sender) {
	st, err := h.Svc.Status(r.Context(), convID, r.PathValue("upload"))
	if err != nil {
		h.answerError(w, "upload status", err)
		return
	}
	httpx.JSON(w, http.StatusOK, st)
}

func (h *HTTP) put(w http.ResponseWriter, r *http.Request, convID string, _ Sender) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/octet-stream" {
		httpx.Error(w, http.StatusUnsupportedMediaType, protocol.CodeBadFrame, "send the part's bytes with Content-Type: application/octet-stream")
		return
	}
	offset, err := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
	if err != nil || offset < 0 {
		httpx.Error(w, http.StatusBadRequest, protocol.CodeBadField, `"offset" must be where the part starts, in bytes`)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, store.MaxUploadPart))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			httpx.Error(w, http.StatusRequestEntityTooLarge, protocol.CodeFrameTooBig, fmt.Sprintf("a part is at most %d bytes", store.MaxUploadPart))
			return
		}
		httpx.Error(w, http.StatusBadRequest, protocol.CodeBadFrame, "the part was cut short; send it again")
		return
	}
	// Finishing is the server's work once the bytes are in: a client
	// that goes away meanwhile finds the file stored when it asks again.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Minute)
	defer cancel()
	st, err := h.Svc.Put(ctx, convID, r.PathValue("upload"), offset, data)
	if err != nil {
		h.answerError(w, "upload part", err)
		return
	}
	httpx.JSON(w, http.StatusOK, st)
}

func (h *HTTP) cancel(w http.ResponseWriter, r *http.Request, convID string, _ Sender) {
	if err := h.Svc.Cancel(r.Context(), convID, r.PathValue("upload")); err != nil {
		h.answerError(w, "cancel upload", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// attachmentCSP is the policy a file is served under: it may show an
// image and nothing else, in a sandbox with no script and an origin of
// its own, whatever the bytes turn out to be.
const attachmentCSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'"

// serve sends a file (or, with ?thumb=1, its thumbnail) to one of its
// conversation's people.
func (h *HTTP) serve(w http.ResponseWriter, r *http.Request, convID string, _ Sender) {
	thumb := r.URL.Query().Get("thumb") == "1"
	a, data, err := h.Svc.st.Attachment(convID, r.PathValue("att"), thumb)
	if err != nil {
		h.answerError(w, "serve attachment", err)
		return
	}
	typ := a.Type
	if thumb {
		typ = a.ThumbType
	}
	hd := w.Header()
	hd.Set("Content-Type", typ)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", attachmentCSP)
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "private, max-age=86400")
	hd.Set("Content-Disposition", disposition(a, thumb))
	sum := a.SHA256
	if thumb {
		sum += "-t"
	}
	hd.Set("ETag", `"`+sum+`"`)
	http.ServeContent(w, r, "", a.CreatedAt, bytes.NewReader(data))
}

// disposition opens images and text in the browser and downloads PDFs
// (whose viewers run script of their own), under the stored name.
func disposition(a store.Attachment, thumb bool) string {
	kind := "inline"
	if a.Type == TypePDF && !thumb {
		kind = "attachment"
	}
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' {
			return '_'
		}
		return r
	}, a.Name)
	return fmt.Sprintf(`%s; filename="%s"; filename*=UTF-8''%s`, kind, ascii, url.PathEscape(a.Name))
}

// answerError maps an error to the catalogue's code and an HTTP status.
func (h *HTTP) answerError(w http.ResponseWriter, what string, err error) {
	var ref *Refusal
	var pe *protocol.Error
	switch {
	case errors.As(err, &ref):
		status := map[string]int{CodeType: http.StatusUnsupportedMediaType, CodeUnreadable: http.StatusUnprocessableEntity, CodeTooBig: http.StatusRequestEntityTooLarge}[ref.Code]
		httpx.Error(w, status, protocol.Code(ref.Code), ref.Message)
	case errors.Is(err, ErrQuota):
		httpx.Error(w, http.StatusRequestEntityTooLarge, protocol.CodeQuotaExceeded, strings.TrimPrefix(err.Error(), ErrQuota.Error()+": "))
	case errors.As(err, &pe):
		status := http.StatusBadRequest
		if pe.Code == protocol.CodeRateLimited {
			status = http.StatusTooManyRequests
		}
		httpx.Error(w, status, pe.Code, pe.Message)
	case errors.Is(err, store.ErrOffset):
		httpx.Error(w, http.StatusConflict, protocol.CodeConflict, "the upload is at another offset: ask where it stands (GET the upload) and go on from there")
	case errors.Is(err, store.ErrUploadFull):
		httpx.Error(w, http.StatusRequestEntityTooLarge, protocol.CodeFileTooBig, "more bytes than the upload announced")
	case errors.Is(err, store.ErrTooMany):
		httpx.Error(w, http.StatusRequestEntityTooLarge, protocol.CodeQuotaExceeded, "this conversation holds as many files as it can")
	case errors.Is(err, store.ErrNotFound):
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "no such upload or file")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "the relay is busy; ask again in a moment")
	default:
		h.fail(w, what, err)
	}
}

func (h *HTTP) fail(w http.ResponseWriter, what string, err error) {
	h.Svc.log.Error("files: "+what, "err", err)
	httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "could not store or read the file; try again")
}

func messageOf(m store.Message) protocol.Message { return chat.MessageOf(m) }
