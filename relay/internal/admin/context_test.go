package admin_test

import (
	"context"
	"testing"
)

// The admin transcript and the console's visitor panel show the visitor
// context: the page of a message (origin and path), the visitor's zone
// and visits; an agent reads the panel, someone signed out cannot.
func TestVisitorContextShown(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	v := newVisitor(t, r)
	ctx := context.Background()
	if err := v.c.WriteRaw(ctx, []byte(`{"type":"message","id":"p1","text":"where is it?","page_url":"https://shop.example/orders/42?t=s3cret","page_title":"Order 42"}`)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Visitor struct {
			Context struct {
				Visits int `json:"visits"`
			} `json:"context"`
		} `json:"visitor"`
		Messages []struct {
			From      string `json:"from"`
			PageURL   string `json:"page_url"`
			PageTitle string `json:"page_title"`
		} `json:"messages"`
	}
	waitFor(t, "the message stored", func() bool {
		res := admin.do("GET", "/v1/admin/conversations/"+v.conv, nil)
		res.decode(&got)
		return len(got.Messages) > 0
	})
	if m := got.Messages[0]; m.PageURL != "https://shop.example/orders/42" || m.PageTitle != "Order 42" || got.Visitor.Context.Visits != 1 {
		t.Fatalf("transcript: %+v", got)
	}

	var p struct {
		VisitorID string `json:"visitor_id"`
		Context   *struct {
			Visits int `json:"visits"`
		} `json:"context"`
		Earlier []any `json:"earlier"`
	}
	res := newAccount(t, r, "mei", "agent").do("GET", "/v1/agent/conversations/"+v.conv+"/visitor", nil)
	if res.status != 200 {
		t.Fatalf("profile: %d %s", res.status, res.body)
	}
	res.decode(&p)
	if p.VisitorID == "" || p.Context == nil || p.Context.Visits != 1 || p.Earlier == nil {
		t.Fatalf("profile = %s", res.body)
	}
	if res := anonymous(t, r).do("GET", "/v1/agent/conversations/"+v.conv+"/visitor", nil); res.status != 401 {
		t.Errorf("signed out: %d", res.status)
	}
	if res := admin.do("GET", "/v1/agent/conversations/nosuchconversat/visitor", nil); res.status != 404 || res.code() != "not_found" {
		t.Errorf("unknown conversation: %d %s", res.status, res.body)
	}
}
