//go:build js && wasm

package main

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"syscall/js"
	"time"

	"github.com/kefuhq/kefu/relay/internal/edge"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/syumai/workers"
	"github.com/syumai/workers/cloudflare"
)

// serveMany serves request after request on this instance. The glue
// (edge/glue/worker.mjs) hands it one request at a time and the next only
// once the last one's response is read and its waitUntil work ended:
// workerd binds every promise and stream to the request that made it, so
// two requests' goroutines must never share an instance (docs/edge.md,
// One Go instance per isolate). It never returns; the glue drops the
// instance when it exits or asks to be discarded.
func serveMany() {
	m := &many{}
	workers.ServeNonBlock(http.HandlerFunc(m.serve))
	workers.Ready()
	select {}
}

// many is what an instance keeps between requests.
type many struct {
	b *built
	// version is the settings version b's settings are not older than,
	// when known; used is whether b served a request that read them.
	version int64
	known   bool
	used    bool
	warned  bool
	served  int64
}

func (m *many) serve(w http.ResponseWriter, r *http.Request) {
	m.served++
	// syumai/workers never ends a request's context; net/http's server
	// ends it when the handler returns, and what watches it (the AI
	// client's upstream request among others) would otherwise wait for
	// ever in a kept instance, one goroutine per request.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	r = r.WithContext(ctx)
	// Registered before anything can yield: the glue reads waitUntil from
	// the runtime context it set for this request.
	var cur *built
	done := make(chan struct{})
	cloudflare.WaitUntil(func() {
		<-done
		if cur == nil || cur.e == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), edge.DefaultDrain)
		defer cancel()
		if !cur.e.Drain(ctx) {
			// The answers were cut and the edge closed with them.
			m.discard(fmt.Errorf("answers outlasted %s", edge.DefaultDrain))
		}
	})
	defer close(done)
	defer func() {
		// A panic leaves whatever it interrupted half done (a lock held,
		// a map half written): answer, then let the glue start afresh.
		if p := recover(); p != nil {
			m.discard(fmt.Errorf("panic serving %s %s: %v\n%s", r.Method, r.URL.Path, p, debug.Stack()))
			httpx.Error(w, http.StatusInternalServerError, protocol.CodeInternal, "internal error")
		}
	}()
	cur = m.prepare(r.Context(), r.URL.Path)
	testHooks(cur.h, m).ServeHTTP(w, r)
}

// prepare returns the edge to serve path with, built anew when the
// settings it read have changed since.
func (m *many) prepare(ctx context.Context, path string) *built {
	if m.b == nil {
		m.b, m.used, m.known = build(ctx), false, false
	}
	if m.b.st == nil || !edge.ReadsSettings(path) {
		return m.b
	}
	// A move by this instance's own writes (the day's token use saved
	// after each AI answer) needs no rebuild: what wrote holds it.
	v, moved, err := m.b.st.SettingsMoved(ctx, m.version)
	switch {
	case err != nil:
		// Without migrations/0004 nothing tells a change: read the
		// settings for every request, as an instance per request does.
		if !m.warned {
			m.b.log.Warn("kefu-edge: cannot read the settings version; reading the settings for every request", "err", err)
			m.warned = true
		}
		m.known = false
	case m.known && !moved:
		m.version = v
		m.used = true
		return m.b
	default:
		m.version, m.known = v, true
	}
	if m.used {
		old := m.b
		m.b = old.rebuild(ctx)
		// Drained after its last request: nothing is left to wait for.
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		old.close(cctx)
		cancel()
	}
	m.used = true
	return m.b
}

// discard tells the glue not to hand this instance another request.
func (m *many) discard(why error) {
	if m.b != nil {
		m.b.log.Error("kefu-edge: discarding this instance", "err", why)
	}
	js.Global().Get("context").Set("discard", true)
}
