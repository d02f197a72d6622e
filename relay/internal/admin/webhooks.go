package admin

import (
	"context"
	"net/http"
	"strconv"

	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/webhook"
)

// Webhooks are the URLs events are posted to (webhook.Service).
type Webhooks interface {
	List() []webhook.Endpoint
	Create(ctx context.Context, p webhook.Patch) (webhook.Endpoint, string, error)
	Update(ctx context.Context, id string, p webhook.Patch) (webhook.Endpoint, string, error)
	Delete(ctx context.Context, id string) error
	Status(id string) (webhook.Status, error)
	Redeliver(ctx context.Context, id string, slot int) (webhook.Delivery, error)
	Resume(ctx context.Context, id string) error
	Skip(ctx context.Context, id string) error
	Ping(ctx context.Context, id string) (webhook.Delivery, error)
}

func (a *Admin) webhookRoutes(admin func(string, http.HandlerFunc)) {
	if a.d.Webhooks == nil {
		return
	}
	admin("GET /v1/admin/webhooks", a.listWebhooks)
	admin("POST /v1/admin/webhooks", a.createWebhook)
	admin("PATCH /v1/admin/webhooks/{id}", a.editWebhook)
	admin("DELETE /v1/admin/webhooks/{id}", a.deleteWebhook)
	admin("GET /v1/admin/webhooks/{id}/deliveries", a.webhookDeliveries)
	admin("POST /v1/admin/webhooks/{id}/deliveries/{slot}/redeliver", a.redeliverWebhook)
	admin("POST /v1/admin/webhooks/{id}/resume", a.resumeWebhook)
	admin("POST /v1/admin/webhooks/{id}/skip", a.skipWebhook)
	admin("POST /v1/admin/webhooks/{id}/ping", a.pingWebhook)
}

// webhookAnswer is an endpoint, with its secret the one time it is shown.
type webhookAnswer struct {
	Endpoint webhook.Endpoint `json:"endpoint"`
	Secret   string           `json:"secret,omitempty"`
}

func (a *Admin) listWebhooks(w http.ResponseWriter, r *http.Request) {
	httpx.JSON(w, http.StatusOK, map[string]any{"endpoints": a.d.Webhooks.List(), "event_types": store.EventTypes})
}

func (a *Admin) createWebhook(w http.ResponseWriter, r *http.Request) {
	var p webhook.Patch
	if err := httpx.DecodeJSON(w, r, maxBodyBytes, &p); err != nil {
		return
	}
	e, secret, err := a.d.Webhooks.Create(r.Context(), p)
	if err != nil {
		a.fail(w, r, "create webhook", err)
		return
	}
	a.d.Log.Info("admin: webhook added", "id", e.ID, "url", e.URL, "events", e.Events, "by", who(r))
	httpx.JSON(w, http.StatusCreated, webhookAnswer{Endpoint: e, Secret: secret})
}

func (a *Admin) editWebhook(w http.ResponseWriter, r *http.Request) {
	var p webhook.Patch
	if err := httpx.DecodeJSON(w, r, maxBodyBytes, &p); err != nil {
		return
	}
	e, secret, err := a.d.Webhooks.Update(r.Context(), r.PathValue("id"), p)
	if err != nil {
		a.fail(w, r, "edit webhook", err)
		return
	}
	a.d.Log.Info("admin: webhook changed", "id", e.ID, "patch", p.String(), "by", who(r))
	httpx.JSON(w, http.StatusOK, webhookAnswer{Endpoint: e, Secret: secret})
}

func (a *Admin) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	if err := a.d.Webhooks.Delete(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, r, "delete webhook", err)
		return
	}
	a.d.Log.Info("admin: webhook deleted", "id", r.PathValue("id"), "by", who(r))
	w.WriteHeader(http.StatusNoContent)
}

func (a *Admin) webhookDeliveries(w http.ResponseWriter, r *http.Request) {
	st, err := a.d.Webhooks.Status(r.PathValue("id"))
	if err != nil {
		a.fail(w, r, "webhook deliveries", err)
		return
	}
	httpx.JSON(w, http.StatusOK, st)
}

func (a *Admin) redeliverWebhook(w http.ResponseWriter, r *http.Request) {
	slot, err := strconv.Atoi(r.PathValue("slot"))
	if err != nil {
		badField(w, "slot must be a number")
		return
	}
	d, err := a.d.Webhooks.Redeliver(r.Context(), r.PathValue("id"), slot)
	if err != nil {
		a.fail(w, r, "redeliver webhook", err)
		return
	}
	a.d.Log.Info("admin: webhook redelivered", "id", r.PathValue("id"), "event", d.EventID, "status", d.Status, "by", who(r))
	httpx.JSON(w, http.StatusOK, d)
}

func (a *Admin) resumeWebhook(w http.ResponseWriter, r *http.Request) {
	a.webhookAction(w, r, "resume", a.d.Webhooks.Resume)
}

func (a *Admin) skipWebhook(w http.ResponseWriter, r *http.Request) {
	a.webhookAction(w, r, "skip", a.d.Webhooks.Skip)
}

func (a *Admin) webhookAction(w http.ResponseWriter, r *http.Request, name string, fn func(context.Context, string) error) {
	id := r.PathValue("id")
	if err := fn(r.Context(), id); err != nil {
		a.fail(w, r, name+" webhook", err)
		return
	}
	a.d.Log.Info("admin: webhook "+name, "id", id, "by", who(r))
	st, err := a.d.Webhooks.Status(id)
	if err != nil {
		a.fail(w, r, "webhook deliveries", err)
		return
	}
	httpx.JSON(w, http.StatusOK, st)
}

func (a *Admin) pingWebhook(w http.ResponseWriter, r *http.Request) {
	d, err := a.d.Webhooks.Ping(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, "ping webhook", err)
		return
	}
	httpx.JSON(w, http.StatusOK, d)
}
