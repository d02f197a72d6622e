package apptest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"testing"
	"time"
)

// Session is a signed-in person's browser: a cookie jar and the CSRF
// token, sending what the admin page and the console send.
type Session struct {
	t    testing.TB
	r    *Relay
	http *http.Client
	csrf string
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
		CSRF string `json:"csrf"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("sign in %s: %v", username, err)
	}
	s.csrf = out.CSRF
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
