package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadAssetsCompression(t *testing.T) {
	js := []byte(strings.Repeat("console.log('kefu');\n", 200))
	tree := fstest.MapFS{"panel.js": {Data: js}}
	tests := []struct {
		name     string
		load     func(...fs.FS) (*Assets, error)
		wantGzip bool
	}{
		{"relay: gzip form kept in memory", LoadAssets, true},
		{"edge: none, Cloudflare compresses", LoadAssetsUncompressed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tc.load(tree)
			if err != nil {
				t.Fatal(err)
			}
			as := a.Get("panel.js")
			if (as.Gzip() != nil) != tc.wantGzip {
				t.Fatalf("gzip form present = %v, want %v", as.Gzip() != nil, tc.wantGzip)
			}
			req := httptest.NewRequest("GET", "/assets/"+as.Hash+"/panel.js", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			rec := httptest.NewRecorder()
			a.Serve(rec, req, as)
			if gz := rec.Header().Get("Content-Encoding") == "gzip"; gz != tc.wantGzip {
				t.Errorf("served gzip = %v, want %v", gz, tc.wantGzip)
			}
			if !tc.wantGzip && !bytes.Equal(rec.Body.Bytes(), js) {
				t.Error("uncompressed body differs from the file")
			}
		})
	}
}

// Loading compresses nothing (every start of the relay used to gzip
// every file at the best level): a file is compressed on the first
// request that accepts gzip, once, and served with the identity form's
// ETag; a client that asks for none, or a file that does not shrink,
// never costs a compression.
func TestGzipOnFirstRequest(t *testing.T) {
	js := []byte(strings.Repeat("console.log('kefu');\n", 200))
	noise := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	var calls []int
	compress := func(b []byte) []byte { calls = append(calls, len(b)); return Gzip(b) }
	a, err := Load(Options{Compress: compress}, fstest.MapFS{"panel.js": {Data: js}, "noise.js": {Data: noise}, "small.css": {Data: []byte("p{}")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 0 {
		t.Fatalf("loading compressed %d files; want none before a request", len(calls))
	}
	get := func(name, ae string) *httptest.ResponseRecorder {
		as := a.Get(name)
		req := httptest.NewRequest("GET", "/assets/"+as.Hash+"/"+name, nil)
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		rec := httptest.NewRecorder()
		a.Serve(rec, req, as)
		return rec
	}
	plain := get("panel.js", "")
	if plain.Header().Get("Content-Encoding") != "" || !bytes.Equal(plain.Body.Bytes(), js) || len(calls) != 0 {
		t.Fatalf("identity request: encoding %q, %d compressions", plain.Header().Get("Content-Encoding"), len(calls))
	}
	for i := range 3 {
		rec := get("panel.js", "gzip, deflate")
		if rec.Header().Get("Content-Encoding") != "gzip" || rec.Header().Get("ETag") != plain.Header().Get("ETag") {
			t.Fatalf("request %d: encoding %q etag %q (identity's %q)", i, rec.Header().Get("Content-Encoding"), rec.Header().Get("ETag"), plain.Header().Get("ETag"))
		}
		if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(rec.Body.Len()) {
			t.Errorf("Content-Length %s for a body of %d bytes", cl, rec.Body.Len())
		}
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(zr); err != nil || !bytes.Equal(got, js) {
			t.Fatalf("request %d: gzip body decodes to %d bytes (%v), want the file's %d", i, len(got), err, len(js))
		}
	}
	if len(calls) != 1 {
		t.Errorf("%d compressions for three gzip requests of one file; want 1", len(calls))
	}
	if rec := get("noise.js", "gzip"); rec.Header().Get("Content-Encoding") != "" || !bytes.Equal(rec.Body.Bytes(), noise) {
		t.Errorf("a file gzip does not shrink went out as %q", rec.Header().Get("Content-Encoding"))
	}
	get("noise.js", "gzip")
	get("small.css", "gzip")
	if len(calls) != 2 {
		t.Errorf("compressions %v; want panel.js and noise.js once each, small.css never", calls)
	}
}

func TestLoadBundle(t *testing.T) {
	tree := fstest.MapFS{
		"admin/index.html": {Data: []byte(`<link rel="stylesheet" href="../shared/base.css">` +
			`<link rel="icon" href="icon.svg"><script type="module" src="app.js"></script>` +
			`<a href="#main">skip</a><a href="/v1/admin/export">x</a><a href="https://example.com/app.js">y</a>` +
			`<img src="missing.png"><a href="app.js?v=1">q</a>`)},
		"admin/app.js":    {Data: []byte(`import { h } from '../shared/dom.js';`)},
		"admin/icon.svg":  {Data: []byte(`<svg/>`)},
		"shared/dom.js":   {Data: []byte(`export const h = 1;`)},
		"shared/base.css": {Data: []byte(`body{}`)},
		"index.html":      {Data: []byte(`<link rel="stylesheet" href="index.css"><script src="/widget.js"></script>`)},
		"index.css":       {Data: []byte(`p{}`)},
		"panel.js":        {Data: []byte(`1`)},
	}
	load := func(tree fstest.MapFS) *Assets {
		a, err := Load(Options{Bundle: []string{"admin", "shared"}}, tree)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := load(tree)
	v := a.Get("admin/app.js").Version
	for _, name := range []string{"admin/index.html", "admin/icon.svg", "shared/dom.js", "shared/base.css"} {
		if got := a.Get(name).Version; got != v {
			t.Errorf("%s version %s, want the bundle's %s", name, got, v)
		}
	}
	for _, name := range []string{"index.html", "index.css", "panel.js"} {
		if as := a.Get(name); as.Version != as.Hash {
			t.Errorf("%s outside the bundle: version %s, want its hash %s", name, as.Version, as.Hash)
		}
	}
	page := string(a.Get("admin/index.html").Raw)
	for _, want := range []string{
		`href="/assets/` + v + `/shared/base.css"`, `href="/assets/` + v + `/admin/icon.svg"`, `src="/assets/` + v + `/admin/app.js"`,
		`href="#main"`, `href="/v1/admin/export"`, `href="https://example.com/app.js"`, `src="missing.png"`, `href="app.js?v=1"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("admin/index.html lacks %s:\n%s", want, page)
		}
	}
	if got, want := string(a.Get("index.html").Raw), `href="/assets/`+a.Get("index.css").Hash+`/index.css"`; !strings.Contains(got, want) || !strings.Contains(got, `src="/widget.js"`) {
		t.Errorf("index.html %s, want %s and /widget.js untouched", got, want)
	}
	if as := a.Get("admin/index.html"); as.Hash == contentHash(tree["admin/index.html"].Data) {
		t.Error("the rewritten page kept the hash of the file as written")
	}

	// Any change in the bundle moves every URL of it, and nothing else.
	tree["shared/dom.js"] = &fstest.MapFile{Data: []byte(`export const h = 2;`)}
	b := load(tree)
	if b.Get("admin/app.js").Version == v || b.URL("admin/icon.svg") == a.URL("admin/icon.svg") {
		t.Error("a changed shared module left the bundle's version as it was")
	}
	if b.URL("panel.js") != a.URL("panel.js") {
		t.Error("a change in the bundle moved a file outside it")
	}

	// The bundle URL is immutable; an old one is served, not cached.
	for _, tc := range []struct{ url, cache string }{
		{a.URL("admin/app.js"), "no-cache"}, // a's version is stale in b
		{b.URL("admin/app.js"), "public, max-age=31536000, immutable"},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", tc.url, nil)
		hash, name, _ := strings.Cut(strings.TrimPrefix(tc.url, "/assets/"), "/")
		req.SetPathValue("hash", hash)
		req.SetPathValue("name", name)
		b.ServeHashed(rec, req)
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != tc.cache {
			t.Errorf("%s: %d %q, want 200 %q", tc.url, rec.Code, rec.Header().Get("Cache-Control"), tc.cache)
		}
	}
}

// Hashes worked out ahead (the edge's, at build time) are used when the
// file still has the size they were worked out at; anything else is hashed.
func TestLoadPrecomputedHashes(t *testing.T) {
	js := []byte("console.log('kefu');\n")
	tree := fstest.MapFS{"widget.js": {Data: js}, "panel.js": {Data: js}, "i18n/en.json": {Data: []byte(`{}`)}}
	real := contentHash(js)
	a, err := Load(Options{Hashes: map[string]Precomputed{
		"widget.js": {Hash: "0123456789ab", Size: len(js)},     // taken as given: not re-hashed
		"panel.js":  {Hash: "0123456789ab", Size: len(js) + 1}, // the file changed since: hashed
		"gone.js":   {Hash: "0123456789ab", Size: 1},           // no such file: ignored
	}}, tree)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"widget.js": "0123456789ab", "panel.js": real, "i18n/en.json": contentHash([]byte(`{}`))} {
		as := a.Get(name)
		if as.Hash != want || as.Version != want || a.URL(name) != "/assets/"+want+"/"+name {
			t.Errorf("%s: hash %s, version %s, URL %s; want %s", name, as.Hash, as.Version, a.URL(name), want)
		}
	}
	if a.Get("gone.js") != nil {
		t.Error("a hash for a file that is not there made an asset")
	}
}

// With ServedElsewhere, a build-time hash without its file (the edge's
// panel.js, a Workers static asset) is an asset with a URL and no
// content: an older version's URL is redirected to it, the current one
// (which should never reach this server) and unknown names are 404s.
func TestServedElsewhere(t *testing.T) {
	js := []byte("console.log('kefu');\n")
	tree := fstest.MapFS{"widget.js": {Data: js}}
	hashes := map[string]Precomputed{
		"widget.js":          {Hash: contentHash(js), Size: len(js)},
		"panel.js":           {Hash: "0123456789ab", Size: 68000},
		"shared/markdown.js": {Hash: "ba9876543210", Size: 8000},
		"short.js":           {Hash: "0123", Size: 1}, // not a hash: ignored
	}
	a, err := Load(Options{Hashes: hashes, ServedElsewhere: true}, tree)
	if err != nil {
		t.Fatal(err)
	}
	if a.URL("panel.js") != "/assets/0123456789ab/panel.js" || a.URL("shared/markdown.js") != "/assets/ba9876543210/shared/markdown.js" {
		t.Errorf("URLs: %q, %q", a.URL("panel.js"), a.URL("shared/markdown.js"))
	}
	if a.Get("short.js") != nil {
		t.Error("a malformed hash made an asset")
	}
	// Without the option, as before: no file, no asset.
	if b, err := Load(Options{Hashes: hashes}, tree); err != nil || b.Get("panel.js") != nil {
		t.Errorf("without ServedElsewhere: %v, %v", b.Get("panel.js"), err)
	}
	get := func(url string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", url, nil)
		hash, name, _ := strings.Cut(strings.TrimPrefix(url, "/assets/"), "/")
		req.SetPathValue("hash", hash)
		req.SetPathValue("name", name)
		a.ServeHashed(rec, req)
		return rec
	}
	for _, tc := range []struct {
		url, location string
		code          int
	}{
		{"/assets/000000000000/panel.js", "/assets/0123456789ab/panel.js", http.StatusFound},
		{"/assets/ffffffffffff/shared/markdown.js", "/assets/ba9876543210/shared/markdown.js", http.StatusFound},
		{"/assets/0123456789ab/panel.js", "", http.StatusNotFound},
		{"/assets/0123456789ab/nope.js", "", http.StatusNotFound},
	} {
		rec := get(tc.url)
		if rec.Code != tc.code || rec.Header().Get("Location") != tc.location {
			t.Errorf("%s: %d to %q; want %d to %q", tc.url, rec.Code, rec.Header().Get("Location"), tc.code, tc.location)
		}
		if tc.code == http.StatusFound && rec.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: Cache-Control %q: a redirect to what the next deploy moves must not be kept", tc.url, rec.Header().Get("Cache-Control"))
		}
	}
	if rec := get("/assets/0123456789ab/panel.js"); !strings.Contains(rec.Body.String(), "panel.js is served beside this server") {
		t.Errorf("the current version's 404 says %q", rec.Body.String())
	}
	// The embedded file is served as ever.
	if rec := get("/assets/" + contentHash(js) + "/widget.js"); rec.Code != 200 || rec.Body.String() != string(js) {
		t.Errorf("widget.js: %d %q", rec.Code, rec.Body.String())
	}
	// Served at a stable URL (never done for these; a slip would send an
	// empty 200): a 404 naming where it is.
	rec := httptest.NewRecorder()
	a.Serve(rec, httptest.NewRequest("GET", "/panel.js", nil), a.Get("panel.js"))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "/assets/0123456789ab/panel.js") {
		t.Errorf("Serve of a file served elsewhere: %d %q", rec.Code, rec.Body.String())
	}
}
