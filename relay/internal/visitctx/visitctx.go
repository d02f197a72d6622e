// Package visitctx derives the visitor context agents see (issue 15):
// browser and OS from a User-Agent, the page and referrer addresses cut
// to what is safe to keep, and what a visit is. It keeps nothing itself;
// the visitor package stores what it returns.
package visitctx

import (
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// Limits of what is kept (what arrives is bounded by the protocol's
// decoder: protocol.MaxURLLen, MaxTitleLen, MaxTZLen).
const (
	// MaxURL bounds a kept address (origin and path).
	MaxURL = 512
	// MaxTitle bounds a kept page title.
	MaxTitle = 200
	// VisitGap is what makes a visit: activity after this long without
	// any starts a new one (the usual web-analytics session).
	VisitGap = 30 * time.Minute
	// SeenEvery is how often activity within a visit is written: often
	// enough that VisitGap is measured to within it, rarely enough that a
	// page view costs no write.
	SeenEvery = 5 * time.Minute
)

// CleanURL is what is kept of a page or referrer address: scheme, host
// and path, cut to MaxURL bytes. The query and the fragment are dropped,
// as are user info: they often carry emails, tokens and session ids.
// Anything but an absolute http(s) address gives "".
func CleanURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	out := (&url.URL{Scheme: u.Scheme, Host: strings.ToLower(u.Host), Path: u.Path, RawPath: u.RawPath}).String()
	if out == "" || strings.ContainsAny(out, "\x00\r\n") {
		return ""
	}
	out = cut(out, MaxURL)
	// A cut inside a %-escape leaves an address that does not parse.
	if i := strings.LastIndexByte(out, '%'); i >= 0 && i >= len(out)-2 {
		out = out[:i]
	}
	return out
}

// CleanTitle is what is kept of a page title: spaces and control
// characters collapsed to single spaces, cut to MaxTitle bytes.
func CleanTitle(raw string) string {
	var b strings.Builder
	space := false
	for _, r := range raw {
		if r < 0x20 || r == 0x7f || r == ' ' || r == '\u00a0' || r == '\u2028' || r == '\u2029' || r == utf8.RuneError {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return cut(b.String(), MaxTitle)
}

// PageOf is the page a message says it was written on; nil when it says
// nothing usable.
func PageOf(rawURL, rawTitle string) *store.Page {
	u := CleanURL(rawURL)
	if u == "" {
		return nil
	}
	return &store.Page{URL: u, Title: CleanTitle(rawTitle)}
}

// cut shortens s to at most n bytes on a character boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Seen is what one connection or message tells about the visitor.
type Seen struct {
	Browser, OS      string // from Browser
	Locale, TimeZone string
	// Referrer is the other site that led to the page (already cleaned);
	// "" when the page was reached from the same site or directly.
	Referrer string
}

// Apply records activity at now into c and reports whether c changed in
// a way worth a write: a new visit, new facts, or SeenEvery since the
// last write. Within a visit, the first referrer reported stays.
func Apply(c *store.VisitorContext, s Seen, now time.Time) bool {
	changed := false
	set := func(dst *string, v string) {
		if v != "" && *dst != v {
			*dst, changed = v, true
		}
	}
	if c.LastSeen.IsZero() || now.Sub(c.LastSeen) >= VisitGap {
		c.Visits++
		c.VisitStart, c.Referrer, changed = now, s.Referrer, true
	} else if c.Referrer == "" {
		set(&c.Referrer, s.Referrer)
	}
	set(&c.Browser, s.Browser)
	set(&c.OS, s.OS)
	set(&c.Locale, s.Locale)
	set(&c.TimeZone, s.TimeZone)
	if changed || now.Sub(c.LastSeen) >= SeenEvery {
		c.LastSeen = now
		return true
	}
	return false
}
