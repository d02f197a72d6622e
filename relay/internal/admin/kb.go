package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/kb"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Knowledge is the knowledge base (kb.Service).
type Knowledge interface {
	List() []kb.Article
	Get(id string) (kb.Article, error)
	Put(ctx context.Context, a kb.Article) (kb.Article, error)
	Delete(ctx context.Context, id string) error
	Search(question string, k int) []kb.Hit
}

// maxArticleBytes bounds an article's JSON: the body's limit and room.
const maxArticleBytes = kb.MaxBody + 16<<10

// kbRoutes registers the knowledge-base endpoints.
func (a *Admin) kbRoutes(admin func(string, http.HandlerFunc)) {
	admin("GET /v1/admin/kb", a.listArticles)
	admin("POST /v1/admin/kb", a.putArticle)
	admin("PUT /v1/admin/kb/{id}", a.putArticle)
	admin("DELETE /v1/admin/kb/{id}", a.deleteArticle)
}

func (a *Admin) listArticles(w http.ResponseWriter, r *http.Request) {
	list := a.d.Knowledge.List()
	if list == nil {
		list = []kb.Article{}
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"articles": list})
}

// putArticle adds an article (POST) or replaces one (PUT …/{id}).
func (a *Admin) putArticle(w http.ResponseWriter, r *http.Request) {
	var art kb.Article
	if err := httpx.DecodeJSON(w, r, maxArticleBytes, &art); err != nil {
		return
	}
	art.ID = r.PathValue("id")
	saved, err := a.d.Knowledge.Put(r.Context(), art)
	if err != nil {
		a.kbFail(w, r, "put article", err)
		return
	}
	a.d.Log.Info("admin: article saved", "by", who(r), "id", saved.ID, "title", saved.Title)
	status := http.StatusOK
	if art.ID == "" {
		status = http.StatusCreated
	}
	httpx.JSON(w, status, saved)
}

func (a *Admin) deleteArticle(w http.ResponseWriter, r *http.Request) {
	if err := a.d.Knowledge.Delete(r.Context(), r.PathValue("id")); err != nil {
		a.kbFail(w, r, "delete article", err)
		return
	}
	a.d.Log.Info("admin: article deleted", "by", who(r), "id", r.PathValue("id"))
	w.WriteHeader(http.StatusNoContent)
}

func (a *Admin) kbFail(w http.ResponseWriter, r *http.Request, op string, err error) {
	switch {
	case errors.Is(err, kb.ErrInvalid):
		badField(w, strings.TrimPrefix(err.Error(), kb.ErrInvalid.Error()+": "))
	case errors.Is(err, kb.ErrFull):
		httpx.Error(w, http.StatusConflict, protocol.CodeConflict, err.Error())
	case errors.Is(err, kb.ErrNotFound):
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "")
	default:
		a.fail(w, r, op, err)
	}
}
