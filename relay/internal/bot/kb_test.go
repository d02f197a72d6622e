package bot_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/protocol"
)

// adminDo signs in as the admin and makes one admin API call.
func adminDo(t *testing.T, r *apptest.Relay, password, method, path string, body any) (int, []byte) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	call := func(method, path, csrf string, body any) (int, []byte) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, r.URL+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", r.URL)
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	status, out := call("POST", "/v1/auth/login", "", map[string]string{"username": "admin", "password": password})
	if status != 200 {
		t.Fatalf("login: %d %s", status, out)
	}
	var login struct{ CSRF string }
	json.Unmarshal(out, &login)
	return call(method, path, login.CSRF, body)
}

// TestArticleGroundsTheAnswerAndIsLinked: an article's passage is in the
// request the upstream receives (never a hand-off intent's text), the
// answer drawing on it ends with a link to the article, and the admin's
// try box shows what would be retrieved.
func TestArticleGroundsTheAnswerAndIsLinked(t *testing.T) {
	const pw = "admin-password-for-kb"
	answer := "Print the prepaid return label from your account page, then return the item within 30 days of delivery."
	up := openaitest.New(t, openaitest.Options{Text: answer, Words: true})
	r := apptest.Start(t, func(c *config.Config) { withAI(up)(c); c.AdminPassword = pw })
	status, out := adminDo(t, r, pw, "POST", "/v1/admin/kb", map[string]string{
		"title": "Returns policy",
		"body":  "# Returns\n\nYou can return any item within 30 days of delivery for a full refund.\n\nPrint the prepaid return label from your account page.",
	})
	if status != 201 {
		t.Fatalf("create article: %d %s", status, out)
	}
	var art struct{ ID string }
	json.Unmarshal(out, &art)
	if status, out := adminDo(t, r, pw, "POST", "/v1/admin/kb", map[string]string{"title": "", "body": "x"}); status != 400 || !strings.Contains(string(out), "title: required") {
		t.Errorf("an article without a title: %d %s", status, out)
	}
	status, out = adminDo(t, r, pw, "POST", "/v1/admin/intents/try", map[string]string{"text": "where do I print the prepaid label from my account page?"})
	if status != 200 || !strings.Contains(string(out), `"passages":[{"article_id":"`+art.ID) {
		t.Errorf("try box: %d %s", status, out)
	}

	v := dial(t, r, client.Options{})
	v.send("where do I print the prepaid label from my account page?")
	m := v.waitMessage(fromBot("ai"))
	wantLink := "[Returns policy](/help/" + art.ID + ")"
	if !strings.HasPrefix(m.Text, answer) || !strings.HasSuffix(m.Text, "\n\nSource: "+wantLink) {
		t.Errorf("answer %q, want it to end with the source link %s", m.Text, wantLink)
	}
	var sys string
	for _, msg := range up.Requests()[0].Messages {
		if msg.Role == "system" {
			sys += msg.Content
		}
	}
	if !strings.Contains(sys, "### Article: Returns policy") || !strings.Contains(sys, "within 30 days of delivery") {
		t.Errorf("the upstream was not given the passage: %q", sys)
	}
	// The demo's hand-off intent ("talk to a person") never grounds.
	if strings.Contains(strings.ToLower(sys), "connecting you") {
		t.Errorf("a hand-off text grounded the answer: %q", sys)
	}
	// The article is public for the help page the link opens.
	resp, err := http.Get(r.URL + "/v1/kb/" + art.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "prepaid return label") {
		t.Errorf("GET /v1/kb/{id}: %d %s", resp.StatusCode, b)
	}
	if resp, _ := http.Get(r.URL + "/help/" + art.ID); resp == nil || resp.StatusCode != 200 {
		t.Errorf("the help page is not served")
	}
	_ = protocol.FromBot
}
