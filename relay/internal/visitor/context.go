package visitor

import (
	"context"
	"net/url"
	"time"

	"github.com/kefuhq/kefu/relay/internal/i18n"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/visitctx"
	"github.com/kefuhq/kefu/relay/protocol"
)

// seenOf is what a hello (or the HTTP start) and its request tell about
// the visitor: the browser and OS derived from the User-Agent (which is
// not kept), and the page's locale, time zone and referrer. A referrer
// on the page's own site is navigation within it, not what led there.
func seenOf(userAgent, origin string, hello *protocol.Hello) visitctx.Seen {
	s := visitctx.Seen{Locale: hello.Locale, TimeZone: hello.TZ}
	s.Browser, s.OS = visitctx.Browser(userAgent)
	if ref := visitctx.CleanURL(hello.Referrer); ref != "" {
		if u, err := url.Parse(ref); err == nil && !sameSite(u, origin) {
			s.Referrer = ref
		}
	}
	return s
}

// sameSite reports whether u is on the site a request's Origin names.
func sameSite(u *url.URL, origin string) bool {
	o, err := url.Parse(origin)
	return err == nil && origin != "" && o.Host != "" && u.Host == o.Host
}

// fillNew sets a new visitor's language and context (as keepLang and
// keepContext would right after) for the write that creates it.
func (h *Handler) fillNew(lang string, seen visitctx.Seen) store.Fill {
	return func(v *store.Visitor) {
		if lang != "" {
			v.Lang = i18n.Builtin().Match(lang)
		}
		if !h.opts.NoContext {
			var c store.VisitorContext
			visitctx.Apply(&c, seen, time.Now())
			v.Context = &c
		}
	}
}

// keepContext records activity of a visitor who has a conversation:
// their browser, time zone and visits (visitctx.Apply decides when that
// is worth a write: a new visit, something new, or every
// visitctx.SeenEvery). Failing to store it costs only the context: it is
// logged, and the conversation goes on.
func (h *Handler) keepContext(ctx context.Context, v *store.Visitor, seen visitctx.Seen) {
	if h.opts.NoContext {
		return
	}
	var c store.VisitorContext
	if v.Context != nil {
		c = *v.Context
	}
	now := time.Now()
	if !visitctx.Apply(&c, seen, now) {
		return
	}
	nv, err := h.store.UpdateVisitor(ctx, v.ID, func(v *store.Visitor) error {
		var fresh store.VisitorContext
		if v.Context != nil {
			fresh = *v.Context
		}
		visitctx.Apply(&fresh, seen, now)
		v.Context = &fresh
		return nil
	})
	if err != nil {
		h.log.Warn("visitor: store context", "visitor", v.ID, "err", err)
		return
	}
	*v = nv
}

// touch records a message as activity (a chat that outlasts VisitGap on
// one page is one visit), at most every visitctx.SeenEvery.
func (s *Session) touch(ctx context.Context) {
	v := store.Visitor{ID: s.VisitorID, Context: &s.context}
	s.h.keepContext(ctx, &v, s.seen)
	if v.Context != nil {
		s.context = *v.Context
	}
}
