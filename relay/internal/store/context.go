package store

import "time"

// Visitor context (issue 15): what agents see of who they talk to. Every
// backend with people (boltdb, jetstream) keeps it inside the visitor and
// message records it belongs to, so export, erasure and retention cover
// it with them; the edge's D1 store keeps none of it (the edge has no
// agents to show it to). storetest.Context is the conformance suite.
// What is kept, and what never is, is in docs/privacy.md.

// Page is the page a visitor's message was written on: its origin and
// path (never its query or fragment) and its title.
type Page struct {
	URL   string `json:"url"`
	Title string `json:"title,omitempty"`
}

// VisitorContext is what the relay derived and the widget told about a
// visitor's browser and visits. Browser and OS are a family and a major
// version ("Firefox 133", "Android 14"), derived from the User-Agent,
// which itself is never stored.
type VisitorContext struct {
	Browser string `json:"browser,omitempty"`
	OS      string `json:"os,omitempty"`
	// Locale is the browser's language (navigator.language); TimeZone its
	// IANA zone. The visitor's local time is shown from it.
	Locale   string `json:"locale,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
	// Referrer is the other site that led to the current visit: origin
	// and path of the first referrer the widget reported in it.
	Referrer string `json:"referrer,omitempty"`
	// Visits counts the visitor's visits: stretches of activity (a widget
	// connecting, a message) without a gap of VisitGap.
	Visits     int       `json:"visits,omitempty"`
	VisitStart time.Time `json:"visit_start,omitzero"`
	LastSeen   time.Time `json:"last_seen,omitzero"`
}
