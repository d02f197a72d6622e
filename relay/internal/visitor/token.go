package visitor

import "net/http"

// Bearer is the visitor token a request carries as Authorization: Bearer
// <token> ("" for none): how every visitor endpoint outside this package
// (attachments, ratings) knows its visitor.
func Bearer(r *http.Request) string { return bearer(r) }

// TokenHash is what a visitor token is stored and looked up under.
func TokenHash(token string) []byte { return hashToken(token) }
