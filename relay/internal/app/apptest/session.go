package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/auth"
)

// Session is a signed-in person's browser: a cookie jar and the CSRF
// token, sending what the admin page and the console send.
type Session struct {
	t    testing.TB
	r    *Relay
	http *http.Client
	csrf string
	user auth.User
}

// Client is the session's HTTP client (its jar holds the session cookie).
func (s *Session) Client() *http.Client { return s.http }

// CSRF is the session's CSRF token.
func (s *Session) CSRF() string { return s.csrf }

// User is the signed-in account, as the login answered.
func (s *Session) User() auth.User { return s.user }

// NewAccount creates an account through the auth service and signs it in.
// An empty Name is the username capitalised; an empty Password is
// "password-" + username.
func (r *Relay) NewAccount(t testing.TB, a auth.NewAccount) *Session {
	t.Helper()
	if a.Name == "" {
		a.Name = strings.ToUpper(a.Username[:1]) + a.Username[1:]
	}
	if a.Password == "" {
		a.Password = "password-" + a.Username
	}
	if _, err := r.App.Auth().CreateAccount(context.Background(), a); err != nil {
		t.Fatalf("create account %s: %v", a.Username, err)
	}
	return r.SignIn(t, a.Username, a.Password)
}

// SignIn signs username in with password, failing the test if it cannot.
func (r *Relay) SignIn(t testing.TB, username, password string) *Session {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	s := &Session{t: t, r: r, http: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
	status, body := s.Do("POST", "/v1/auth/login", map[string]string{"username": username, "password": password})
	if status != http.StatusOK {
		t.Fatalf("sign in %s: %d %s", username, status, body)
	}
	var out struct {
		CSRF string    `json:"csrf"`
		User auth.User `json:"user"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("sign in %s: %v", username, err)
	}
	s.csrf, s.user = out.CSRF, out.User
	return s
}

// Do sends a request with the session's cookie, Origin and CSRF token; a
// body that is not nil is sent as JSON. It returns the status and body.
func (s *Session) Do(method, path string, body any) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.r.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", s.r.URL)
	if s.csrf != "" {
		req.Header.Set("X-CSRF-Token", s.csrf)
	}
	res, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return res.StatusCode, data
}
