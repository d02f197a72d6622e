package intents

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/kefuhq/kefu/router"
)

// maxClassifyBytes bounds a classification request's text: a visitor
// message is at most a few KiB.
const maxClassifyBytes = 8 << 10

// Routes registers the endpoints customer sites use; wrap wraps each
// handler (CORS), limit the classification, which costs CPU on every call
// and needs no sign-in (a per-address rate).
func (s *Service) Routes(mux httpx.Mux, wrap, limit func(http.Handler) http.Handler) {
	mux.Handle("GET /v1/model", wrap(http.HandlerFunc(s.serveModel)))
	mux.Handle("GET /v1/model/{hash}", wrap(http.HandlerFunc(s.serveModel)))
	mux.Handle("GET /v1/answers/{lang}/{hash}", wrap(http.HandlerFunc(s.serveAnswers)))
	mux.Handle("POST /v1/classify", wrap(limit(http.HandlerFunc(s.serveClassify))))
	mux.Handle("OPTIONS /v1/classify", wrap(http.NotFoundHandler()))
}

// serveModel serves the serialised model. Under /v1/model/{hash} it is
// immutable; /v1/model revalidates by ETag.
func (s *Service) serveModel(w http.ResponseWriter, r *http.Request) {
	_, data, hash := s.Model()
	if data == nil {
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "no intents are configured")
		return
	}
	if want := r.PathValue("hash"); want != "" {
		if want != hash {
			httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "that model version is gone; fetch /v1/model")
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	etag := `"` + hash + `"`
	w.Header().Set("ETag", etag)
	if strings.Contains(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(data)
}

type classifyRequest struct {
	Text string `json:"text"`
}

func (s *Service) serveClassify(w http.ResponseWriter, r *http.Request) {
	var req classifyRequest
	if err := httpx.DecodeJSON(w, r, maxClassifyBytes, &req); err != nil {
		return
	}
	if strings.TrimSpace(req.Text) == "" || !utf8.ValidString(req.Text) {
		httpx.Error(w, http.StatusBadRequest, protocol.CodeBadField, `field "text" must be non-empty UTF-8 text`)
		return
	}
	res := s.Classify(req.Text)
	_, _, hash := s.Model()
	httpx.JSON(w, http.StatusOK, struct {
		Model string `json:"model"`
		router.Result
	}{Model: hash, Result: res})
}
