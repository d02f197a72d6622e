package auth

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	svc   *Service
	http  *HTTP
	mux   *http.ServeMux
	clock *clock
	store *boltdb.Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := boltdb.Open(t.TempDir(), boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}
	svc := New(st, slog.New(slog.DiscardHandler), Options{IdleTimeout: time.Hour, AbsoluteTimeout: 24 * time.Hour, Now: c.now})
	h := &HTTP{Svc: svc}
	mux := http.NewServeMux()
	h.Routes(mux)
	mux.Handle("POST /v1/echo", h.Require(store.RoleAdmin, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(FromContext(r.Context()).Account.Username))
	}))
	mux.Handle("GET /v1/agentonly", h.Require(store.RoleAgent, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	return &fixture{svc: svc, http: h, mux: mux, clock: c, store: st}
}

func (f *fixture) do(method, path, body string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://relay.test"+path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	return w
}

func (f *fixture) login(t *testing.T, user, pass string) (cookie, csrf string) {
	t.Helper()
	w := f.do("POST", "/v1/auth/login", `{"username":"`+user+`","password":"`+pass+`"}`, nil)
	if w.Code != 200 {
		t.Fatalf("login %s: %d %s", user, w.Code, w.Body)
	}
	var body struct{ CSRF string }
	json.Unmarshal(w.Body.Bytes(), &body)
	c := w.Result().Cookies()[0]
	return c.Name + "=" + c.Value, body.CSRF
}

func TestPasswordHashing(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$") {
		t.Errorf("hash %q is not argon2id", h)
	}
	if !VerifyPassword(h, "correct horse battery") || VerifyPassword(h, "correct horse batterY") {
		t.Error("verify is wrong")
	}
	// No silent truncation (bcrypt cuts at 72 bytes): passwords that share
	// their first 100 bytes are still told apart.
	long := strings.Repeat("x", 100)
	h2, _ := HashPassword(long + "A")
	if VerifyPassword(h2, long+"B") {
		t.Error("long passwords truncated")
	}
	for _, bad := range []string{"short", strings.Repeat("y", MaxPasswordLen+1), "bad\xffutf8-padding"} {
		if _, err := HashPassword(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if VerifyPassword("$2a$10$notargon", "whatever-password") || VerifyPassword("", "x") {
		t.Error("garbage hash verified")
	}
}

func TestBootstrapFirstAdminOnce(t *testing.T) {
	f := newFixture(t)
	pw, err := f.svc.Bootstrap(context.Background(), "")
	if err != nil || len(pw) < 20 {
		t.Fatalf("random first password %q, %v", pw, err)
	}
	if again, _ := f.svc.Bootstrap(context.Background(), "another-password"); again != "" {
		t.Error("bootstrap ran twice")
	}
	f.login(t, "admin", pw)
	f2 := newFixture(t)
	if pw, _ := f2.svc.Bootstrap(context.Background(), "given-password-123"); pw != "" {
		t.Errorf("given password echoed back: %q", pw)
	}
	f2.login(t, "admin", "given-password-123")
}

func TestLoginCookieAndOneMessageForEveryFailure(t *testing.T) {
	f := newFixture(t)
	f.svc.Bootstrap(context.Background(), "admin-password-1")
	f.svc.CreateAccount(context.Background(), NewAccount{Username: "gone", Name: "Gone", Role: store.RoleAgent, Password: "agent-password-1", Capacity: 3})
	a, _ := f.store.AccountByUsername("gone")
	f.store.UpdateAccount(context.Background(), a.ID, func(a *store.Account) error { a.Disabled = true; return nil })

	w := f.do("POST", "/v1/auth/login", `{"username":"ADMIN","password":"admin-password-1"}`, nil)
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	c := w.Result().Cookies()[0]
	if c.Name != "kefu_session" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || len(c.Value) < 40 {
		t.Errorf("cookie %+v", c)
	}
	var bodies []string
	for _, try := range []string{
		`{"username":"admin","password":"wrong-password-9"}`,
		`{"username":"nobody","password":"admin-password-1"}`,
		`{"username":"gone","password":"agent-password-1"}`,
	} {
		w := f.do("POST", "/v1/auth/login", try, nil)
		if w.Code != 401 {
			t.Errorf("%s: %d", try, w.Code)
		}
		bodies = append(bodies, w.Body.String())
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Errorf("failures are distinguishable: %q", bodies)
	}
}

func TestSessionRotatesAtLogin(t *testing.T) {
	f := newFixture(t)
	f.svc.Bootstrap(context.Background(), "admin-password-1")
	c1, _ := f.login(t, "admin", "admin-password-1")
	c2, _ := f.login(t, "admin", "admin-password-1")
	if c1 == c2 {
		t.Error("same session id for two logins")
	}
}

func TestLoginThrottled(t *testing.T) {
	f := newFixture(t)
	f.svc.Bootstrap(context.Background(), "admin-password-1")
	codes := []int{}
	for range pairFree + 1 {
		codes = append(codes, f.do("POST", "/v1/auth/login", `{"username":"admin","password":"guess-guess-guess"}`, nil).Code)
	}
	if codes[pairFree] != 429 {
		t.Fatalf("codes %v: the attempt after %d failures must be throttled", codes, pairFree)
	}
	// Throttled means refused even with the right password...
	if w := f.do("POST", "/v1/auth/login", `{"username":"admin","password":"admin-password-1"}`, nil); w.Code != 429 {
		t.Errorf("right password while throttled: %d", w.Code)
	}
	// ...until the bucket refills.
	f.clock.add(firstDelay + time.Second)
	if w := f.do("POST", "/v1/auth/login", `{"username":"admin","password":"admin-password-1"}`, nil); w.Code != 200 {
		t.Errorf("after waiting: %d", w.Code)
	}
	// Unknown usernames are throttled the same way (no existence oracle).
	for range pairFree {
		f.do("POST", "/v1/auth/login", `{"username":"ghost","password":"guess-guess-guess"}`, nil)
	}
	if w := f.do("POST", "/v1/auth/login", `{"username":"ghost","password":"guess-guess-guess"}`, nil); w.Code != 429 {
		t.Errorf("unknown user not throttled: %d", w.Code)
	}
}

func TestCSRFAndOrigin(t *testing.T) {
	f := newFixture(t)
	f.svc.Bootstrap(context.Background(), "admin-password-1")
	cookie, csrf := f.login(t, "admin", "admin-password-1")
	tests := []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"no session", map[string]string{csrfHeader: csrf}, 401},
		{"no csrf header", map[string]string{"Cookie": cookie}, 403},
		{"wrong csrf", map[string]string{"Cookie": cookie, csrfHeader: "nope"}, 403},
		{"cross-site origin", map[string]string{"Cookie": cookie, csrfHeader: csrf, "Origin": "https://evil.example"}, 403},
		{"cross-site fetch metadata", map[string]string{"Cookie": cookie, csrfHeader: csrf, "Sec-Fetch-Site": "cross-site"}, 403},
		{"same origin", map[string]string{"Cookie": cookie, csrfHeader: csrf, "Origin": "http://relay.test"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if w := f.do("POST", "/v1/echo", "", tt.hdr); w.Code != tt.want {
				t.Errorf("status %d, want %d (%s)", w.Code, tt.want, w.Body)
			}
		})
	}
	if w := f.do("POST", "/v1/auth/login", `{"username":"admin","password":"admin-password-1"}`, map[string]string{"Origin": "https://evil.example"}); w.Code != 403 {
		t.Errorf("cross-site login: %d", w.Code)
	}
}

func TestRoles(t *testing.T) {
	f := newFixture(t)
	f.svc.CreateAccount(context.Background(), NewAccount{Username: "mei", Name: "Mei", Role: store.RoleAgent, Password: "agent-password-1", Capacity: 3})
	cookie, csrf := f.login(t, "mei", "agent-password-1")
	if w := f.do("POST", "/v1/echo", "", map[string]string{"Cookie": cookie, csrfHeader: csrf}); w.Code != 403 {
		t.Errorf("agent reached an admin endpoint: %d", w.Code)
	}
	if w := f.do("GET", "/v1/agentonly", "", map[string]string{"Cookie": cookie}); w.Code != 200 {
		t.Errorf("agent endpoint: %d", w.Code)
	}
}

func TestExpiryLogoutAndPasswordChange(t *testing.T) {
	f := newFixture(t)
	f.svc.Bootstrap(context.Background(), "admin-password-1")
	var ended [][]byte
	var mu sync.Mutex
	f.svc.OnSessionsEnded(func(h [][]byte, _ string) { mu.Lock(); ended = append(ended, h...); mu.Unlock() })
	me := func(cookie string) int {
		return f.do("GET", "/v1/auth/me", "", map[string]string{"Cookie": cookie}).Code
	}

	// Idle expiry.
	c1, _ := f.login(t, "admin", "admin-password-1")
	f.clock.add(61 * time.Minute)
	if me(c1) != 401 {
		t.Error("idle session still valid")
	}
	// Use keeps a session alive, but not past the absolute limit.
	c2, _ := f.login(t, "admin", "admin-password-1")
	for range 28 { // 23 h 20 min of steady use
		f.clock.add(50 * time.Minute)
		if me(c2) != 200 {
			t.Fatal("active session expired early")
		}
	}
	f.clock.add(50 * time.Minute)
	if me(c2) == 200 {
		t.Error("session outlived the absolute limit")
	}
	// Logout ends the session and says so.
	c3, csrf3 := f.login(t, "admin", "admin-password-1")
	if w := f.do("POST", "/v1/auth/logout", "", map[string]string{"Cookie": c3, csrfHeader: csrf3}); w.Code != 204 {
		t.Fatalf("logout: %d", w.Code)
	}
	if me(c3) != 401 {
		t.Error("session alive after logout")
	}
	// A password change ends every other session.
	c4, csrf4 := f.login(t, "admin", "admin-password-1")
	c5, _ := f.login(t, "admin", "admin-password-1")
	mu.Lock()
	before := len(ended)
	mu.Unlock()
	w := f.do("POST", "/v1/auth/password", `{"old":"admin-password-1","new":"admin-password-2"}`, map[string]string{"Cookie": c4, csrfHeader: csrf4})
	if w.Code != 204 {
		t.Fatalf("password change: %d %s", w.Code, w.Body)
	}
	if me(c4) != 200 || me(c5) != 401 {
		t.Errorf("after password change: this session %d, other %d", me(c4), me(c5))
	}
	mu.Lock()
	if len(ended) <= before {
		t.Error("ended sessions not reported (their sockets would stay open)")
	}
	mu.Unlock()
	f.login(t, "admin", "admin-password-2")
}

func TestSecureCookieBehindProxy(t *testing.T) {
	f := newFixture(t)
	f.http.BehindProxy = true
	f.svc.Bootstrap(context.Background(), "admin-password-1")
	w := f.do("POST", "/v1/auth/login", `{"username":"admin","password":"admin-password-1"}`, map[string]string{"X-Forwarded-Proto": "https", "Origin": "https://relay.test"})
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	c := w.Result().Cookies()[0]
	if c.Name != "__Host-kefu_session" || !c.Secure {
		t.Errorf("cookie %+v", c)
	}
}
