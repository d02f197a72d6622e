package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
)

func identify(t *testing.T, v *visitor, traits string) {
	t.Helper()
	if err := v.c.WriteRaw(context.Background(), []byte(`{"type":"identify","traits":`+traits+`}`)); err != nil {
		t.Fatal(err)
	}
}

// TestVisitorDataRights walks the admin's side of "delete my data": the
// visitor asks from the widget, the admin finds them by email, exports,
// erases; the request is gone, the audit holds no personal data.
func TestVisitorDataRights(t *testing.T) {
	r, logs := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)

	ann := newVisitor(t, r)
	identify(t, ann, `{"email":"ann@example.com","name":"Ann"}`)
	ann.send(t, "where is my parcel quokka-118?")
	annPhone := newVisitor(t, r)
	identify(t, annPhone, `{"email":"ANN@example.com"}`)
	annPhone.send(t, "hello from my phone")
	bob := newVisitor(t, r)
	identify(t, bob, `{"email":"bob@example.com","plan":"pro"}`)
	bob.send(t, "bob's question")
	waitFor(t, "the traits", func() bool {
		found, _ := r.App.Privacy().Find(privacy.Query{Email: "ann@example.com"})
		return len(found) == 2
	})

	// The visitor asks from the widget (the HTTP call it makes).
	token, conv, _ := ann.c.State()
	req, _ := http.NewRequest("POST", r.URL+"/v1/conversations/"+conv+"/erasure-request", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("erasure request: %v %v", resp, err)
	}
	resp.Body.Close()
	bad, _ := http.NewRequest("POST", r.URL+"/v1/conversations/"+conv+"/erasure-request", nil)
	bad.Header.Set("Authorization", "Bearer not-a-token")
	if resp, err := http.DefaultClient.Do(bad); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("erasure request with a wrong token: %v %v", resp, err)
	}
	var reqs struct {
		Requests []struct {
			VisitorID string `json:"visitor_id"`
			Found     *privacy.Found
		}
	}
	admin.must(200, "GET", "/v1/admin/privacy/requests", nil).decode(&reqs)
	if len(reqs.Requests) != 1 || reqs.Requests[0].Found == nil || reqs.Requests[0].Found.Visitor.Traits["email"] != "ann@example.com" {
		t.Fatalf("requests = %+v", reqs)
	}

	var found struct{ Visitors []privacy.Found }
	admin.must(200, "GET", "/v1/admin/visitors?email=Ann@Example.com", nil).decode(&found)
	if len(found.Visitors) != 2 {
		t.Fatalf("find by email = %+v", found)
	}
	admin.must(200, "GET", "/v1/admin/visitors?trait=plan&value=pro", nil).decode(&found)
	if len(found.Visitors) != 1 || found.Visitors[0].Conversations[0].ID != bob.conv {
		t.Fatalf("find by trait = %+v", found)
	}
	admin.must(200, "GET", "/v1/admin/visitors?id="+annPhone.conv, nil).decode(&found)
	if len(found.Visitors) != 1 || found.Visitors[0].Visitor.ConversationID != annPhone.conv {
		t.Fatalf("find by conversation id = %+v", found)
	}
	for _, q := range []string{"", "?email=a&id=b", "?value=x"} {
		if res := admin.do("GET", "/v1/admin/visitors"+q, nil); res.status != 400 || res.code() != "bad_field" {
			t.Errorf("find %q: %d %s", q, res.status, res.body)
		}
	}

	annID, _ := r.Store.Conversation(ann.conv)
	phoneID, _ := r.Store.Conversation(annPhone.conv)
	ids := []string{annID.VisitorID, phoneID.VisitorID}
	res := admin.must(200, "POST", "/v1/admin/visitors/export", map[string]any{"ids": ids})
	if !strings.Contains(res.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("export is not a download: %v", res.header)
	}
	var exp privacy.Export
	res.decode(&exp)
	if len(exp.Visitors) != 2 || !strings.Contains(string(res.body), "quokka-118") || !strings.Contains(string(res.body), "hello from my phone") {
		t.Fatalf("export = %s", res.body)
	}
	for _, body := range []any{map[string]any{"ids": []string{}}, map[string]any{"ids": "x"}, "{"} {
		if res := admin.do("POST", "/v1/admin/visitors/erase", body); res.status != 400 {
			t.Errorf("erase %v: %d %s", body, res.status, res.body)
		}
	}
	if res := admin.do("POST", "/v1/admin/visitors/erase", map[string]any{"ids": []string{"nosuchvisitor00"}}); res.status != 404 {
		t.Errorf("erase unknown: %d %s", res.status, res.body)
	}
	if res := anonymous(t, r).do("POST", "/v1/admin/visitors/erase", map[string]any{"ids": ids}); res.status != 401 {
		t.Errorf("erase signed out: %d", res.status)
	}

	var receipt privacy.Receipt
	admin.must(200, "POST", "/v1/admin/visitors/erase", map[string]any{"ids": ids}).decode(&receipt)
	if receipt.Visitors != 2 || receipt.Conversations != 2 || receipt.Compacted == nil {
		t.Errorf("receipt = %+v", receipt)
	}
	admin.must(200, "GET", "/v1/admin/visitors?email=ann@example.com", nil).decode(&found)
	if len(found.Visitors) != 0 {
		t.Errorf("after erasure, found %+v", found)
	}
	if _, err := r.Store.Conversation(ann.conv); err == nil {
		t.Error("the erased conversation is still stored")
	}
	admin.must(200, "GET", "/v1/admin/privacy/requests", nil).decode(&reqs)
	if len(reqs.Requests) != 0 {
		t.Errorf("the request outlived the erasure: %+v", reqs)
	}
	audit := admin.must(200, "GET", "/v1/admin/privacy/audit", nil)
	var entries struct{ Entries []privacy.AuditEntry }
	audit.decode(&entries)
	if len(entries.Entries) != 1 || entries.Entries[0].By != "admin" || entries.Entries[0].Conversations != 2 {
		t.Errorf("audit = %s", audit.body)
	}
	for _, secret := range []string{"ann@example.com", "quokka", ids[0], ids[1]} {
		if strings.Contains(string(audit.body), secret) {
			t.Errorf("the audit holds %q", secret)
		}
		if strings.Contains(logs.String(), secret) && secret != "ann@example.com" {
			t.Errorf("the log holds %q", secret)
		}
	}
	// Bob is untouched.
	if c, err := r.Store.Conversation(bob.conv); err != nil || c.LastSeq == 0 {
		t.Errorf("bob after ann's erasure: %+v, %v", c, err)
	}
}

func TestRetentionSettings(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	var got struct {
		Retention privacy.Retention
		Sweep     privacy.SweepStatus
	}
	admin.must(200, "GET", "/v1/admin/retention", nil).decode(&got)
	if got.Retention.On() {
		t.Errorf("retention is on by default: %+v", got.Retention)
	}
	waitFor(t, "the first sweep's status", func() bool {
		admin.must(200, "GET", "/v1/admin/retention", nil).decode(&got)
		return !got.Sweep.NextRun.IsZero()
	})
	for _, body := range []any{map[string]any{"closed_days": -1}, map[string]any{"inactive_days": 99999}, map[string]any{"closed_days": "90"}, map[string]any{"nope": 1}} {
		if res := admin.do("PUT", "/v1/admin/retention", body); res.status != 400 {
			t.Errorf("PUT %v: %d %s", body, res.status, res.body)
		}
	}
	admin.must(200, "PUT", "/v1/admin/retention", map[string]any{"closed_days": 90, "inactive_days": 365}).decode(&got)
	if got.Retention != (privacy.Retention{ClosedDays: 90, InactiveDays: 365}) {
		t.Errorf("after PUT: %+v", got.Retention)
	}
}

func TestExportManyConversations(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	var convs []string
	for _, text := range []string{"first chat", "second chat", "third chat"} {
		v := newVisitor(t, r)
		v.send(t, text)
		convs = append(convs, v.conv)
	}
	if _, err := r.Store.UpdateConversation(context.Background(), convs[1], store.Close); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Count         int
		Conversations []privacy.ConversationExport
	}
	res := admin.must(200, "GET", "/v1/admin/conversations/export", nil)
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, res.body)
	}
	if doc.Count != 3 || len(doc.Conversations) != 3 {
		t.Fatalf("export has %d/%d conversations, want 3", doc.Count, len(doc.Conversations))
	}
	for _, c := range doc.Conversations {
		if len(c.Messages) == 0 || !strings.HasSuffix(c.Messages[0].Text, "chat") {
			t.Errorf("conversation %s exported without its transcript: %+v", c.ID, c.Messages)
		}
	}
	admin.must(200, "GET", "/v1/admin/conversations/export?status=closed", nil).decode(&doc)
	if doc.Count != 1 || doc.Conversations[0].ID != convs[1] {
		t.Errorf("closed export = %+v", doc)
	}
	if res := admin.do("GET", "/v1/admin/conversations/export?since=yesterday", nil); res.status != 400 {
		t.Errorf("bad since: %d", res.status)
	}
}

func TestDeleteAgent(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	mei := newAccount(t, r, "mei", store.RoleAgent)
	if res := admin.do("DELETE", "/v1/admin/agents/"+admin.user.ID, nil); res.status != 409 {
		t.Errorf("deleting yourself: %d %s", res.status, res.body)
	}
	admin.must(204, "DELETE", "/v1/admin/agents/"+mei.user.ID, nil)
	if _, err := r.Store.Account(mei.user.ID); err == nil {
		t.Error("the deleted account is still stored")
	}
	if res := mei.do("GET", "/v1/canned", nil); res.status != 401 {
		t.Errorf("the deleted agent's session still works: %d", res.status)
	}
	if res := admin.do("DELETE", "/v1/admin/agents/"+mei.user.ID, nil); res.status != 404 {
		t.Errorf("deleting again: %d", res.status)
	}
	// The username is free again.
	newAccount(t, r, "mei", store.RoleAgent)
}
