//go:build !js

package edge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

// readLog is a store that records which settings documents were read, and
// can fail them.
type readLog struct {
	*boltdb.Store
	mu    sync.Mutex
	names []string
	fail  error
}

func (s *readLog) Setting(name string, v any) (bool, error) {
	if err := s.read(name); err != nil {
		return false, err
	}
	return s.Store.Setting(name, v)
}

func (s *readLog) SettingBytes(name string) ([]byte, error) {
	if err := s.read(name); err != nil {
		return nil, err
	}
	return s.Store.SettingBytes(name)
}

func (s *readLog) read(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names = append(s.names, name)
	return s.fail
}

func (s *readLog) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.names
	s.names = nil
	return n
}

// newEdge builds an edge over st as the Worker does for each request.
func newEdge(t *testing.T, st Store, env map[string]string) *Edge {
	t.Helper()
	cfg, err := config.Parse(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(context.Background(), Options{Config: cfg, Fanout: NewFanout(), Store: st, DefaultModel: defaultModel(t), Log: slog.New(slog.NewTextHandler(tlog{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func openBolt(t *testing.T) *boltdb.Store {
	t.Helper()
	st, err := boltdb.Open(t.TempDir(), boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestPartsAnswerAsTheWhole: every request a part serves gets, from a
// fresh edge (as each Worker request is), the answer the edge with every
// route built gives, wrong methods and unknown sub-paths included.
func TestPartsAnswerAsTheWhole(t *testing.T) {
	st := openBolt(t)
	env := map[string]string{"KEFU_ALLOWED_ORIGINS": "shop.example"}
	whole, err := newEdge(t, st, env).handler(context.Background(), partAll)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(h http.Handler, method, target, body string, hdr map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	cfg := serve(whole, "GET", "/v1/widget/config?lang=ja", "", map[string]string{"Origin": "https://shop.example"}).Body.String()
	hashOf := func(key string) string {
		i := strings.Index(cfg, key)
		if i < 0 {
			t.Fatalf("config has no %s: %s", key, cfg)
		}
		rest := cfg[i+len(key):]
		return rest[:strings.IndexByte(rest, '"')]
	}
	modelHash := hashOf(`"/v1/model/`)
	answers := hashOf(`"/v1/answers/ja/`)
	panel := hashOf(`"/assets/`)

	origin := map[string]string{"Origin": "https://shop.example"}
	preflight := map[string]string{"Origin": "https://shop.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
	classify := `{"text":"how long does shipping take?"}`
	reqs := []struct {
		method, target, body string
		hdr                  map[string]string
	}{
		{"GET", "/healthz", "", nil},
		{"HEAD", "/healthz", "", nil},
		{"POST", "/healthz", "", nil},
		{"GET", "/readyz", "", nil},
		{"DELETE", "/readyz", "", nil},
		{"GET", "/widget.js", "", nil},
		{"GET", "/widget.js", "", origin},
		{"GET", "/widget.js", "", map[string]string{"Origin": "https://elsewhere.example"}},
		{"POST", "/widget.js", "", origin},
		{"OPTIONS", "/widget.js", "", preflight},
		{"GET", "/assets/" + panel, "", nil},
		{"GET", "/assets/000000000000/panel.js", "", nil},
		{"GET", "/assets/", "", nil},
		{"GET", "/assets/x", "", nil},
		{"GET", "/v1/widget/messages?lang=fr", "", nil},
		{"GET", "/demo", "", nil},
		{"GET", "/v1/widget/config", "", origin},
		{"GET", "/v1/widget/config?lang=ja", "", origin},
		{"GET", "/v1/widget/config", "", map[string]string{"Origin": "https://elsewhere.example"}},
		{"OPTIONS", "/v1/widget/config", "", preflight},
		{"POST", "/v1/widget/config", "", origin},
		{"GET", "/v1/model", "", origin},
		{"GET", "/v1/model/" + modelHash, "", origin},
		{"GET", "/v1/model/" + modelHash, "", map[string]string{"Origin": "https://shop.example", "If-None-Match": `"` + modelHash + `"`}},
		{"GET", "/v1/model/abc", "", origin},
		{"GET", "/v1/model/", "", origin},
		{"GET", "/v1/model/a/b", "", origin},
		{"GET", "/v1/answers/ja/" + answers, "", origin},
		{"GET", "/v1/answers/en/abc", "", origin},
		{"GET", "/v1/answers/en", "", origin},
		{"POST", "/v1/classify", classify, map[string]string{"Origin": "https://shop.example", "Content-Type": "application/json"}},
		{"POST", "/v1/classify", "{", map[string]string{"Origin": "https://shop.example", "Content-Type": "application/json"}},
		{"GET", "/v1/classify", "", origin},
		{"OPTIONS", "/v1/classify", "", preflight},
	}
	for _, r := range reqs {
		name := r.method + " " + r.target
		if partOf(strings.SplitN(r.target, "?", 2)[0]) == partAll {
			t.Errorf("%s: served by the whole edge; this test is about the parts", name)
			continue
		}
		want := serve(whole, r.method, r.target, r.body, r.hdr)
		got := serve(newEdge(t, st, env), r.method, r.target, r.body, r.hdr)
		if got.Code != want.Code || got.Body.String() != want.Body.String() {
			t.Errorf("%s: part answered %d %.80q, the whole %d %.80q", name, got.Code, got.Body.String(), want.Code, want.Body.String())
		}
		for k := range mergeKeys(got.Header(), want.Header()) {
			if k == "Last-Modified" { // the assets' load time
				continue
			}
			if g, w := got.Header().Values(k), want.Header().Values(k); !slices.Equal(g, w) {
				t.Errorf("%s: header %s: part %q, the whole %q", name, k, g, w)
			}
		}
	}
}

func mergeKeys(a, b http.Header) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

// TestPartsReadWhatTheyNeed: a health check reads no settings, the
// widget's files only the widget's, the model the intents' too.
func TestPartsReadWhatTheyNeed(t *testing.T) {
	st := &readLog{Store: openBolt(t)}
	// The first request seeds the default intents and fits their model.
	if err := newEdge(t, st, nil).Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.take()
	for _, c := range []struct {
		path string
		want []string
	}{
		{"/healthz", nil},
		{"/widget.js", []string{"widget"}},
		{"/readyz", []string{"widget"}},
		{"/v1/model", []string{"widget", "intents", "intents.model"}},
	} {
		w := httptest.NewRecorder()
		newEdge(t, st, nil).ServeHTTP(w, httptest.NewRequest("GET", c.path, nil))
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: %d %s", c.path, w.Code, w.Body)
		}
		if got := st.take(); !slices.Equal(got, c.want) {
			t.Errorf("GET %s read settings %q, want %q", c.path, got, c.want)
		}
	}
}

// TestPartThatCannotBuildAnswers503: a database that cannot be read makes
// every part that reads it answer 503 with a stable code (the log says
// why); the health check, which reads nothing, still answers.
func TestPartThatCannotBuildAnswers503(t *testing.T) {
	st := &readLog{Store: openBolt(t), fail: errors.New("no such table: settings")}
	for path, want := range map[string]int{
		"/healthz":          http.StatusOK,
		"/readyz":           http.StatusServiceUnavailable,
		"/widget.js":        http.StatusServiceUnavailable,
		"/v1/widget/config": http.StatusServiceUnavailable,
		"/v1/conversations": http.StatusServiceUnavailable,
	} {
		w := httptest.NewRecorder()
		newEdge(t, st, nil).ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != want {
			t.Errorf("GET %s: %d, want %d", path, w.Code, want)
		}
		if want == http.StatusServiceUnavailable && (!strings.Contains(w.Body.String(), `"internal"`) || !strings.Contains(w.Body.String(), MsgNotSetUp)) {
			t.Errorf("GET %s: body %s, want code internal and %q", path, w.Body, MsgNotSetUp)
		}
	}
}
