package edge

import (
	"net/http"

	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Messages of what the edge does not serve, for people reading the error.
const (
	// MsgNoSocket answers GET /v1/ws: a Worker holds no live sockets
	// between requests, and there are no people to chat with here.
	MsgNoSocket = "live chat with people needs the kefu relay; this edge deployment answers over HTTP (POST /v1/conversations, then server-sent events)"
	// MsgNoPeople answers the agent console's socket and the admin API
	// (their pages are not in the edge's assets: 404).
	MsgNoPeople = "the agent console and the admin page run on the kefu relay; this edge deployment serves the widget, FAQ and AI answers only"
	// MsgNoFiles answers attachments and ratings: files need the relay's
	// store (a Worker's request cannot hold a 10 MB file's processing),
	// and with no people here no conversation is ever closed and rated.
	MsgNoFiles = "attachments and ratings need the kefu relay; this edge deployment serves the widget, FAQ and AI answers only"
)

// notHere answers what only the relay does with 501 not_supported, a
// stable code the widget and people can act on, instead of a bare 404.
func notHere(mux *http.ServeMux, cors func(http.Handler) http.Handler) {
	refuse := func(msg string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpx.Error(w, http.StatusNotImplemented, protocol.CodeNotSupported, msg)
		})
	}
	// CORS, so a page's script can read why (the socket itself is never
	// opened by a widget here: its config says "ws": null).
	mux.Handle("GET /v1/ws", cors(refuse(MsgNoSocket)))
	mux.Handle("GET /v1/agent/ws", refuse(MsgNoPeople))
	mux.Handle("/v1/admin/", refuse(MsgNoPeople))
	mux.Handle("/v1/agent/", refuse(MsgNoPeople))
	for _, p := range []string{
		"POST /v1/conversations/{id}/uploads",
		"GET /v1/conversations/{id}/uploads/{upload}",
		"POST /v1/conversations/{id}/uploads/{upload}",
		"POST /v1/conversations/{id}/uploads/{upload}/cancel",
		"GET /v1/conversations/{id}/attachments/{att}",
		"POST /v1/conversations/{id}/rating",
	} {
		mux.Handle(p, cors(refuse(MsgNoFiles)))
	}
	// Preflights of the longer paths (the visitor API answers the shorter).
	mux.Handle("OPTIONS /v1/conversations/{id}/{what}/{x}", cors(refuse(MsgNoFiles)))
	mux.Handle("OPTIONS /v1/conversations/{id}/{what}/{x}/{y}", cors(refuse(MsgNoFiles)))
}
