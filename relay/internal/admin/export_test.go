package admin

import "net/http"

// ListConversations exposes the list handler to benchmarks, without the
// session guard.
func (a *Admin) ListConversations() http.HandlerFunc { return a.listConversations }
