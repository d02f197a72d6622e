//go:build js && wasm

// Command kefu-edge is Kefu's edge build: the relay's widget, FAQ and AI
// answers on Cloudflare Workers, from the relay's own handlers (package
// edge) over D1 (package store/d1). Built by make edge; docs/edge.md.
//
// syumai/workers' glue starts this program anew for every request: main
// builds what the request needs, serves it, lets an answer still streaming
// finish (within the Worker's waitUntil), and returns. Kefu's own glue
// (edge/glue/worker.mjs) can instead keep an instance for many requests,
// one at a time (reuse.go; docs/edge.md, One Go instance per isolate).
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"syscall/js"
	"time"

	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/edge"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/site"
	"github.com/kefuhq/kefu/relay/internal/store/d1"
	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/syumai/workers"
	"github.com/syumai/workers/cloudflare"
	"github.com/syumai/workers/cloudflare/fetch"
)

// D1Binding is the name wrangler.jsonc binds the database to.
const D1Binding = "DB"

// The widget's classifier module and Go's wasm_exec.js, served by Workers
// static assets beside this Worker at content-hashed URLs. make edge sets
// them with -ldflags -X; left empty, widgets classify through the edge.
var (
	wasmURL     string
	wasmHash    string
	wasmExecURL string
	// assetHashes are the widget files' content hashes, worked out by make
	// edge ("name=hash:size,…"): hashing them here would cost every
	// request milliseconds of CPU, and the files served as static assets
	// (the panel, its extra part, the shared modules) are not here to hash.
	assetHashes string
	// defaultModel is the default intents' model in base64, fitted by make
	// edge (kefu-edge-intents --default-model): the first request on an
	// empty database seeds them with it. Empty, none are seeded (the
	// Worker fits no model).
	defaultModel string
)

func main() {
	// The glue (edge/glue/worker.mjs) says whether this instance serves
	// one request, as syumai/workers' own glue does, or many.
	if js.Global().Get("context").Get("reuse").Truthy() {
		serveMany()
		return
	}
	serveOne()
}

// serveOne builds the edge, serves the one request this instance was
// started for, lets its answers finish, and returns.
func serveOne() {
	start := time.Now()
	b := build(context.Background())
	log := b.log
	drained := make(chan struct{})
	// The runtime ends a request's work when its response is done, unless
	// it was handed to waitUntil: an answer to a message posted as JSON
	// streams after the response.
	cloudflare.WaitUntil(func() {
		<-workers.Done()
		ctx, cancel := context.WithTimeout(context.Background(), edge.DefaultDrain)
		defer cancel()
		b.close(ctx)
		close(drained)
	})
	workers.ServeNonBlock(testHooks(b.h, nil))
	workers.Ready()
	log.Debug("kefu-edge: ready", "took", time.Since(start))
	<-drained
	if log.Enabled(context.Background(), slog.LevelDebug) {
		// Each request holds a Go instance of its own in the isolate's
		// 128 MB: this says how much (docs/edge.md).
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		log.Debug("kefu-edge: done", "took", time.Since(start), "memory_mb", ms.Sys>>20, "heap_mb", ms.HeapSys>>20)
	}
	// Let the waitUntil task resolve its promise before the program ends.
	runtime.Gosched()
}

// built is an instance's edge: its handler, and what serving many
// requests needs (nil when the build failed and h answers 503).
type built struct {
	h   http.Handler
	e   *edge.Edge
	st  *d1.Store
	log *slog.Logger
	// opts builds the edge again over the same store (rebuild).
	opts edge.Options
}

// close lets answers still streaming finish (within ctx), then releases
// the edge.
func (b *built) close(ctx context.Context) {
	if b.e != nil {
		b.e.Close(ctx)
	}
}

// build makes the handler and the logger; when that fails the handler
// answers every request with a 503 and the log says why (a missing
// binding, a bad option). The edge builds only what the request needs,
// and answers 503 itself when that fails (migrations not applied).
func build(ctx context.Context) *built {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := config.Parse(nil, getenv, io.Discard)
	if err != nil {
		return broken(log, err)
	}
	log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	fan := edge.NewFanout()
	// Settings are read, all in one query, by the first request part that
	// needs one: a health check reads none. An instance serving many
	// requests builds anew when their version moves (reuse.go).
	st, err := d1.Open(cloudflare.GetBinding(D1Binding), d1.Options{OnAppend: fan.OnAppend, Logger: log, SettingsOnFirstRead: true})
	if err != nil {
		return broken(log, fmt.Errorf("kefu-edge: binding %q: %w", D1Binding, err))
	}
	hashes, err := edge.ParseAssetHashes(assetHashes)
	if err != nil {
		return broken(log, err)
	}
	// The panel is not inside the Worker (widget/fs_js.go): without its
	// build-time hash no widget could open.
	if _, ok := hashes["panel.js"]; !ok {
		return broken(log, errors.New("kefu-edge: built without the widget files' hashes (-X main.assetHashes): build with make edge (edge/build.sh)"))
	}
	model, err := base64.StdEncoding.DecodeString(defaultModel)
	if err != nil {
		return broken(log, fmt.Errorf("kefu-edge: the default model built in: %w", err))
	}
	var wasm *site.WasmFiles
	if wasmURL != "" && wasmHash != "" && wasmExecURL != "" {
		wasm = &site.WasmFiles{Module: site.Asset{URL: wasmURL, Hash: wasmHash}, Exec: wasmExecURL}
	}
	opts := edge.Options{
		Config: cfg, Fanout: fan, Store: st, Log: log, Wasm: wasm, AssetHashes: hashes, DefaultModel: model,
		// Kept across rebuilds (reuse.go): the files, the model decoded,
		// the knowledge base's index.
		Kept: &edge.Kept{},
		// Workers open no sockets: upstream requests go through fetch.
		// Manual redirects leave the AI client's own redirect checks in charge.
		Transport: fetch.NewClient().HTTPClient(fetch.RedirectModeManual).Transport,
	}
	e, err := edge.New(ctx, opts)
	if err != nil {
		return broken(log, err)
	}
	return &built{h: e, e: e, st: st, log: log, opts: opts}
}

// rebuild builds the edge again from the settings as they are now, over
// the same store: it counts its own settings writes, which SettingsMoved
// needs to tell them from others'.
func (b *built) rebuild(ctx context.Context) *built {
	b.st.ForgetSettings()
	e, err := edge.New(ctx, b.opts)
	if err != nil {
		return broken(b.log, err)
	}
	return &built{h: e, e: e, st: b.st, log: b.log, opts: b.opts}
}

// broken answers every request with a 503; the reason goes to the log
// (npx wrangler tail), not to visitors.
func broken(log *slog.Logger, err error) *built {
	log.Error("kefu-edge: cannot start", "err", err)
	return &built{h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeInternal, edge.MsgNotSetUp)
	}), log: log}
}

// getenv reads the Worker's vars and secrets. wrangler.jsonc may give a
// var as a JSON number or boolean; the option table wants its text.
func getenv(name string) string {
	v := cloudflare.GetBinding(name)
	switch v.Type() {
	case js.TypeString:
		return v.String()
	case js.TypeNumber, js.TypeBoolean:
		return js.Global().Call("String", v).String()
	}
	return ""
}
