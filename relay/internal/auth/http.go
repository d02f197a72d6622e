package auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/limits"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Cookie names: __Host- (which browsers accept only with Secure, Path=/ and
// no Domain) whenever the relay is reached over HTTPS.
const (
	cookiePlain  = "kefu_session"
	cookieSecure = "__Host-kefu_session"
	csrfHeader   = "X-CSRF-Token"
)

// HTTP serves sign-in and guards the admin and agent endpoints.
type HTTP struct {
	Svc         *Service
	BehindProxy bool
}

// User is an account as the APIs show it.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
	Role     string `json:"role"`
}

// UserOf hides the account's secrets.
func UserOf(a store.Account) User {
	return User{ID: a.ID, Username: a.Username, Name: a.Name, Role: a.Role}
}

// Principal is who is signed in on a request.
type Principal struct {
	Account   store.Account
	Session   store.Session
	SessionID string
}

type principalKey struct{}

// FromContext returns the request's principal (set by Require).
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Routes registers the sign-in endpoints.
func (h *HTTP) Routes(mux httpx.Mux) {
	mux.HandleFunc("POST /v1/auth/login", h.login)
	mux.Handle("GET /v1/auth/me", h.Require("", h.me))
	mux.Handle("POST /v1/auth/logout", h.Require("", h.logout))
	mux.Handle("POST /v1/auth/password", h.Require("", h.password))
}

// secure reports whether the browser reached the relay over HTTPS.
func (h *HTTP) secure(r *http.Request) bool {
	return r.TLS != nil || (h.BehindProxy && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"))
}

// SameOrigin reports whether a request comes from the relay's own pages:
// its Origin (when the browser sends one) is this relay's scheme and host,
// and the browser does not flag it as cross-site.
func (h *HTTP) SameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	scheme := "http"
	if h.secure(r) {
		scheme = "https"
	}
	return u.Scheme == scheme && strings.EqualFold(u.Host, r.Host)
}

// SessionID reads the session cookie.
func SessionID(r *http.Request) string {
	for _, name := range []string{cookieSecure, cookiePlain} {
		if c, err := r.Cookie(name); err == nil && c.Value != "" {
			return c.Value
		}
	}
	return ""
}

func (h *HTTP) setCookie(w http.ResponseWriter, r *http.Request, id string, maxAge time.Duration) {
	name := cookiePlain
	if h.secure(r) {
		name = cookieSecure
	}
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: id, Path: "/", HttpOnly: true, Secure: h.secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: int(maxAge.Seconds()),
	})
}

// Require lets through signed-in people with role (admin passes every
// role; "" means any), checking CSRF and origin on every state change.
func (h *HTTP) Require(role string, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := SessionID(r)
		sess, a, err := h.Svc.Check(r.Context(), id)
		if errors.Is(err, ErrNoSession) {
			httpx.Error(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "")
			return
		}
		if err != nil {
			httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "")
			return
		}
		if role != "" && a.Role != role && a.Role != store.RoleAdmin {
			httpx.Error(w, http.StatusForbidden, protocol.CodeForbidden, "")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !h.SameOrigin(r) {
				httpx.Error(w, http.StatusForbidden, protocol.CodeOriginNotAllowed, "cross-site request refused")
				return
			}
			if got := r.Header.Get(csrfHeader); got == "" || !constantEqual(got, sess.CSRF) {
				httpx.Error(w, http.StatusForbidden, protocol.CodeForbidden, "missing or wrong "+csrfHeader+" header")
				return
			}
		}
		p := &Principal{Account: a, Session: sess, SessionID: id}
		next(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (h *HTTP) login(w http.ResponseWriter, r *http.Request) {
	// A login form posted from another site would sign the victim into the
	// attacker's account: refuse cross-site logins too.
	if !h.SameOrigin(r) {
		httpx.Error(w, http.StatusForbidden, protocol.CodeOriginNotAllowed, "cross-site request refused")
		return
	}
	var req loginRequest
	if err := httpx.DecodeJSON(w, r, 4096, &req); err != nil {
		return
	}
	id, sess, a, err := h.Svc.Login(r.Context(), req.Username, req.Password, limits.ClientIP(r, h.BehindProxy))
	if err != nil {
		if !refused(w, err) {
			httpx.Error(w, http.StatusUnauthorized, protocol.CodeUnauthorized, ErrBadLogin.Error())
		}
		return
	}
	h.setCookie(w, r, id, h.Svc.opts.AbsoluteTimeout)
	httpx.JSON(w, http.StatusOK, map[string]any{"user": UserOf(a), "csrf": sess.CSRF})
}

func (h *HTTP) me(w http.ResponseWriter, r *http.Request) {
	p := FromContext(r.Context())
	httpx.JSON(w, http.StatusOK, map[string]any{"user": UserOf(p.Account), "csrf": p.Session.CSRF})
}

func (h *HTTP) logout(w http.ResponseWriter, r *http.Request) {
	h.Svc.Logout(r.Context(), FromContext(r.Context()).SessionID)
	h.setCookie(w, r, "", -time.Second)
	w.WriteHeader(http.StatusNoContent)
}

type passwordRequest struct {
	Old string `json:"old"`
	New string `json:"new"`
}

func (h *HTTP) password(w http.ResponseWriter, r *http.Request) {
	var req passwordRequest
	if err := httpx.DecodeJSON(w, r, 4096, &req); err != nil {
		return
	}
	p := FromContext(r.Context())
	err := h.Svc.ChangePassword(r.Context(), p.SessionID, p.Account.ID, req.Old, req.New, limits.ClientIP(r, h.BehindProxy))
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ErrBadLogin):
		httpx.Error(w, http.StatusForbidden, protocol.CodeForbidden, "the current password is wrong")
	case errors.Is(err, ErrWeakPassword):
		httpx.Error(w, http.StatusBadRequest, protocol.CodeBadField, err.Error())
	default:
		refused(w, err)
	}
}

// refused answers the errors of a password check that are not a wrong
// password: throttled (429), too busy to hash (503), both with
// Retry-After, or a failed store (503). It reports false for ErrBadLogin,
// which the caller words.
func refused(w http.ResponseWriter, err error) bool {
	var te *ThrottledError
	switch {
	case errors.As(err, &te):
		w.Header().Set("Retry-After", strconv.Itoa(int((te.Wait+time.Second-1)/time.Second)))
		httpx.Error(w, http.StatusTooManyRequests, protocol.CodeRateLimited, te.Error())
	case errors.Is(err, ErrBusy):
		w.Header().Set("Retry-After", "1")
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeRateLimited, ErrBusy.Error())
	case errors.Is(err, ErrBadLogin):
		return false
	case errors.Is(err, context.Canceled):
		// The client left; nobody reads an answer.
	default:
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "")
	}
	return true
}
