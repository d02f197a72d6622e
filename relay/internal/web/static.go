// Package web serves the relay's plain HTTP surface: health, metrics, and
// the embedded static assets under content-hashed, immutable URLs.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// hashLen is the hex digits of SHA-256 in a hashed asset URL: 48 bits is
// plenty to tell versions of one file apart.
const hashLen = 12

// Asset is one static file, held in memory with its compressed forms.
type Asset struct {
	Name string
	Hash string // of the content served
	// Version is the hash in the file's immutable URL: its own Hash, or
	// its bundle's (Options.Bundle).
	Version     string
	ContentType string
	Raw         []byte
	Brotli      []byte // from a NAME.br file next to it, when present
	etag        string
	// elsewhere: served beside this server, not by it (Options.ServedElsewhere).
	elsewhere bool

	// The gzip form is made on the first request that accepts it, not at
	// load: compressing every file at the best level cost each start of
	// the relay (and every test that starts one) half a second of CPU,
	// most of it for files no client asks gzip of (the WebAssembly
	// module goes out as brotli).
	compress func([]byte) []byte
	gzipOnce sync.Once
	gzip     []byte
}

// Gzip is the asset's gzip form, compressed on the first call (later
// calls share it); nil when compression is off or does not pay.
func (as *Asset) Gzip() []byte {
	if as.compress == nil {
		return nil
	}
	as.gzipOnce.Do(func() {
		if z := as.compress(as.Raw); len(z) < len(as.Raw)*9/10 {
			as.gzip = z
		}
	})
	return as.gzip
}

// Assets serves embedded files. GET /assets/{hash}/{name} is cached forever
// (the hash changes with the content); any other URL of a file revalidates
// with its ETag.
type Assets struct {
	byName map[string]*Asset
	start  time.Time
}

// Options say how Load prepares the files.
type Options struct {
	// Compress, when set, gives the gzip form kept of each file it
	// shrinks (Asset.Gzip, made on first use). A function, not a switch:
	// a build that keeps none (the edge) links no compressor.
	Compress func([]byte) []byte
	// Bundle lists folders whose files load one another by relative URLs
	// (ES modules importing ../shared/dom.js): they share one version, the
	// hash of all their contents, so a module imported from two places is
	// one URL and one instance, and any change to any of them changes the
	// URLs of all.
	Bundle []string
	// Hashes are content hashes worked out ahead, by name (the edge
	// build's, at build time: SHA-256 in WebAssembly costs a Worker
	// milliseconds of CPU on every start). One is used only when the
	// file still has the size it was hashed at; others are computed.
	Hashes map[string]Precomputed
	// ServedElsewhere makes each of Hashes without a file in the trees an
	// asset with a hash and an immutable URL but no content: a file that
	// something in front of this server serves at that URL (the edge's
	// Workers static assets, which answer before the Worker runs). The
	// server redirects an older version's URL there (ServeHashed).
	ServedElsewhere bool
}

// Precomputed is a file's content hash (contentHash's, 12 hex digits) and
// the size it had when hashed.
type Precomputed struct {
	Hash string
	Size int
}

// LoadAssets reads every file of the given trees into memory, later trees
// winning on equal names, and gzips those that shrink (when first asked). Files ending in .br
// are taken as the brotli form of the file without the suffix, never
// served on their own.
func LoadAssets(trees ...fs.FS) (*Assets, error) { return Load(Options{Compress: Gzip}, trees...) }

// LoadAssetsUncompressed is LoadAssets without the gzip forms: for the edge
// build, which loads its assets anew for every request (compressing would
// cost each one milliseconds of CPU) and whose responses Cloudflare
// compresses itself.
func LoadAssetsUncompressed(trees ...fs.FS) (*Assets, error) { return Load(Options{}, trees...) }

// Load reads the trees as LoadAssets does, with the given options. HTML
// files get their relative src and href attributes that name another file
// rewritten to that file's immutable URL, so a page at a stable address
// (/admin/) loads everything else from the cache without asking.
func Load(o Options, trees ...fs.FS) (*Assets, error) {
	raw, brotli, err := readTrees(trees)
	if err != nil {
		return nil, err
	}
	versions := make(map[string]string, len(raw))
	hashes := make(map[string]string, len(raw))
	for name, data := range raw {
		if p, ok := o.Hashes[name]; ok && p.Size == len(data) && len(p.Hash) == hashLen {
			hashes[name] = p.Hash
		} else {
			hashes[name] = contentHash(data)
		}
		versions[name] = hashes[name]
	}
	bundleVersion(raw, versions, o.Bundle)
	a := &Assets{byName: map[string]*Asset{}, start: time.Now()}
	for name, data := range raw {
		if path.Ext(name) == ".html" {
			data = linkHashed(name, data, versions)
		}
		h := hashes[name]
		if path.Ext(name) == ".html" {
			h = contentHash(data) // its links were rewritten
		}
		as := newAsset(name, data, h, o.Compress)
		as.Version = versions[name]
		if !inBundle(name, o.Bundle) {
			as.Version = as.Hash // a page's own hash covers its rewritten links
		}
		a.byName[name] = as
	}
	if o.ServedElsewhere {
		for name, p := range o.Hashes {
			if a.byName[name] == nil && len(p.Hash) == hashLen {
				as := newAsset(name, nil, p.Hash, nil)
				as.elsewhere = true
				a.byName[name] = as
			}
		}
	}
	for name, br := range brotli {
		if as := a.byName[name]; as != nil {
			as.Brotli = br
		}
	}
	return a, nil
}

func contentHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:hashLen]
}

func inBundle(name string, bundle []string) bool {
	for _, dir := range bundle {
		if strings.HasPrefix(name, strings.TrimSuffix(dir, "/")+"/") {
			return true
		}
	}
	return false
}

// bundleVersion gives every file of the bundle the hash of all of them
// (names and contents, in name order).
func bundleVersion(raw map[string][]byte, versions map[string]string, bundle []string) {
	var names []string
	for name := range raw {
		if inBundle(name, bundle) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return
	}
	slices.Sort(names)
	h := sha256.New()
	for _, name := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(raw[name]))
		h.Write(raw[name])
	}
	v := hex.EncodeToString(h.Sum(nil))[:hashLen]
	for _, name := range names {
		versions[name] = v
	}
}

// linkHashed rewrites the relative links of an HTML file that name another
// asset into that asset's immutable URL. Absolute paths (/widget.js, the
// APIs), URLs with a scheme and fragments are left alone. A link is a
// double-quoted src or href attribute after white space (the relay's own
// pages quote them so, public/README.md): what `(\s(?:src|href)=")([^"]*)(")`
// matches, found by hand because the edge build links no regexp
// (docs/decisions.md, issue 17; FuzzLinkHashed holds it to the expression).
func linkHashed(name string, html []byte, versions map[string]string) []byte {
	dir := path.Dir(name)
	var out []byte
	last := 0 // html[:last] is in out
	for i := 0; i < len(html); i++ {
		if c := html[i]; c != ' ' && c != '\t' && c != '\n' && c != '\f' && c != '\r' {
			continue
		}
		var start int // of the value
		switch rest := html[i+1:]; {
		case bytes.HasPrefix(rest, []byte(`src="`)):
			start = i + 1 + len(`src="`)
		case bytes.HasPrefix(rest, []byte(`href="`)):
			start = i + 1 + len(`href="`)
		default:
			continue
		}
		n := bytes.IndexByte(html[start:], '"')
		if n < 0 {
			break // no closing quote here, so none for any later link either
		}
		end := start + n
		if ref := string(html[start:end]); ref != "" && !strings.ContainsAny(ref, ":?#") && !strings.HasPrefix(ref, "/") {
			target := path.Join(dir, ref)
			if v, ok := versions[target]; ok {
				out = append(out, html[last:start]...)
				out = append(out, "/assets/"+v+"/"+target...)
				last = end
			}
		}
		i = end // the search goes on after the closing quote
	}
	return append(out, html[last:]...)
}

// readTrees reads every file of the trees (later trees win), and the
// brotli forms (NAME.br) apart.
func readTrees(trees []fs.FS) (raw, brotli map[string][]byte, err error) {
	raw, brotli = map[string][]byte{}, map[string][]byte{}
	for _, tree := range trees {
		err := fs.WalkDir(tree, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") || path.Base(p) == "README.md" {
				return err
			}
			data, err := fs.ReadFile(tree, p)
			if err != nil {
				return err
			}
			if strings.HasSuffix(p, ".br") {
				brotli[strings.TrimSuffix(p, ".br")] = data
				return nil
			}
			raw[p] = data
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("web: load assets: %w", err)
		}
	}
	return raw, brotli, nil
}

func newAsset(name string, data []byte, h string, compress func([]byte) []byte) *Asset {
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".wasm":
		ct = "application/wasm" // instantiateStreaming insists on it
	case ".js", ".mjs":
		ct = "text/javascript; charset=utf-8"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	as := &Asset{Name: name, Hash: h, Version: h, ContentType: ct, Raw: data, etag: `"` + h + `"`}
	if len(data) > 512 && compressible(ct) {
		as.compress = compress
	}
	return as
}

// Gzip is data gzipped at the best compression, for Options.Compress.
func Gzip(data []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(data)
	zw.Close()
	return buf.Bytes()
}

func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "javascript") || strings.Contains(ct, "json") ||
		strings.Contains(ct, "wasm") || strings.Contains(ct, "svg")
}

// Names lists every asset's name, sorted.
func (a *Assets) Names() []string {
	names := make([]string, 0, len(a.byName))
	for name := range a.byName {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Get returns the named asset, or nil.
func (a *Assets) Get(name string) *Asset { return a.byName[name] }

// URL is the immutable, content-hashed URL of an asset ("" when missing).
func (a *Assets) URL(name string) string {
	as := a.byName[name]
	if as == nil {
		return ""
	}
	return "/assets/" + as.Version + "/" + name
}

// ServeHashed serves GET /assets/{hash}/{name...}.
func (a *Assets) ServeHashed(w http.ResponseWriter, r *http.Request) {
	as := a.byName[r.PathValue("name")]
	if as == nil {
		http.NotFound(w, r)
		return
	}
	v := r.PathValue("hash")
	if as.elsewhere {
		// The current version is served in front of this server, so a
		// request for it that reached here finds it missing there.
		if v == as.Version {
			http.Error(w, "web: "+as.Name+" is served beside this server and is missing there", http.StatusNotFound)
			return
		}
		// An older version, from a page loaded before a deploy: the
		// current one, as the relay gives it, by a redirect that is
		// asked again next time (the next deploy moves it).
		w.Header().Set("Cache-Control", "no-cache")
		http.Redirect(w, r, a.URL(as.Name), http.StatusFound)
		return
	}
	if v == as.Version || v == as.Hash {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// A page from before an upgrade asks for an old version: give the
		// current one, but do not let it be cached under the old URL.
		w.Header().Set("Cache-Control", "no-cache")
	}
	a.Serve(w, r, as)
}

// Serve writes an asset with ETag revalidation and the best encoding the
// client accepts. Cache-Control is the caller's choice.
func (a *Assets) Serve(w http.ResponseWriter, r *http.Request, as *Asset) {
	if as.elsewhere {
		http.Error(w, "web: "+as.Name+" is served at "+a.URL(as.Name)+", not here", http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("ETag", as.etag)
	h.Set("Content-Type", as.ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-cache")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, as.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := as.Raw
	ae := r.Header.Get("Accept-Encoding")
	switch {
	case as.Brotli != nil && acceptsEncoding(ae, "br"):
		h.Set("Content-Encoding", "br")
		body = as.Brotli
	case acceptsEncoding(ae, "gzip") && as.Gzip() != nil:
		h.Set("Content-Encoding", "gzip")
		body = as.Gzip()
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "W/"))
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

func acceptsEncoding(header, enc string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), enc) {
			continue
		}
		q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
		if !ok {
			return true
		}
		f, err := strconv.ParseFloat(q, 64)
		return err == nil && f > 0
	}
	return false
}
