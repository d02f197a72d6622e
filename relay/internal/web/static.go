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
	"strconv"
	"strings"
	"time"
)

// hashLen is the hex digits of SHA-256 in a hashed asset URL: 48 bits is
// plenty to tell versions of one file apart.
const hashLen = 12

// Asset is one static file, held in memory with its compressed forms.
type Asset struct {
	Name        string
	Hash        string
	ContentType string
	Raw         []byte
	Gzip        []byte // nil when compression does not pay
	Brotli      []byte // from a NAME.br file next to it, when present
	etag        string
}

// Assets serves embedded files. GET /assets/{hash}/{name} is cached forever
// (the hash changes with the content); any other URL of a file revalidates
// with its ETag.
type Assets struct {
	byName map[string]*Asset
	start  time.Time
}

// LoadAssets reads every file of the given trees into memory, later trees
// winning on equal names, and gzips those that shrink. Files ending in .br
// are taken as the brotli form of the file without the suffix, never
// served on their own.
func LoadAssets(trees ...fs.FS) (*Assets, error) { return loadAssets(true, trees) }

// LoadAssetsUncompressed is LoadAssets without the gzip forms: for the edge
// build, which loads its assets anew for every request (compressing would
// cost each one milliseconds of CPU) and whose responses Cloudflare
// compresses itself.
func LoadAssetsUncompressed(trees ...fs.FS) (*Assets, error) { return loadAssets(false, trees) }

func loadAssets(compress bool, trees []fs.FS) (*Assets, error) {
	a := &Assets{byName: map[string]*Asset{}, start: time.Now()}
	brotli := map[string][]byte{}
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
			a.byName[p] = newAsset(p, data, compress)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("web: load assets: %w", err)
		}
	}
	for name, br := range brotli {
		if as := a.byName[name]; as != nil {
			as.Brotli = br
		}
	}
	return a, nil
}

func newAsset(name string, data []byte, compress bool) *Asset {
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])[:hashLen]
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
	as := &Asset{Name: name, Hash: h, ContentType: ct, Raw: data, etag: `"` + h + `"`}
	if compress && len(data) > 512 && compressible(ct) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(data)
		zw.Close()
		if buf.Len() < len(data)*9/10 {
			as.Gzip = buf.Bytes()
		}
	}
	return as
}

func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "javascript") || strings.Contains(ct, "json") ||
		strings.Contains(ct, "wasm") || strings.Contains(ct, "svg")
}

// Get returns the named asset, or nil.
func (a *Assets) Get(name string) *Asset { return a.byName[name] }

// URL is the immutable, content-hashed URL of an asset ("" when missing).
func (a *Assets) URL(name string) string {
	as := a.byName[name]
	if as == nil {
		return ""
	}
	return "/assets/" + as.Hash + "/" + name
}

// ServeHashed serves GET /assets/{hash}/{name...}.
func (a *Assets) ServeHashed(w http.ResponseWriter, r *http.Request) {
	as := a.byName[r.PathValue("name")]
	if as == nil {
		http.NotFound(w, r)
		return
	}
	if r.PathValue("hash") == as.Hash {
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
	case as.Gzip != nil && acceptsEncoding(ae, "gzip"):
		h.Set("Content-Encoding", "gzip")
		body = as.Gzip
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
