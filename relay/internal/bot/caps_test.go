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

// patchAI signs in as the admin and changes the AI settings, as the admin
// page does; it returns the response status and body.
func patchAI(t *testing.T, r *apptest.Relay, password string, patch map[string]any) (int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	do := func(method, path, csrf string, body any) (int, []byte) {
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
	status, body := do("POST", "/v1/auth/login", "", map[string]string{"username": "admin", "password": password})
	if status != 200 {
		t.Fatalf("login: %d %s", status, body)
	}
	var login struct{ CSRF string }
	json.Unmarshal(body, &login)
	status, body = do("PATCH", "/v1/admin/ai", login.CSRF, patch)
	return status, string(body)
}

// TestAnswerCaps: past the cap on AI answers per conversation or per
// visitor-hour, the next question is handed to a person with its own
// notice, without asking the upstream; a bad cap is refused clearly.
func TestAnswerCaps(t *testing.T) {
	const pw = "admin-password-for-caps"
	for _, field := range []string{"answers_per_conversation", "answers_per_visitor_hour"} {
		t.Run(field, func(t *testing.T) {
			up := openaitest.New(t, openaitest.Options{Text: "Happy to help."})
			r := apptest.Start(t, func(c *config.Config) { withAI(up)(c); c.AdminPassword = pw })
			if status, body := patchAI(t, r, pw, map[string]any{field: -1}); status != 400 || !strings.Contains(body, field) {
				t.Errorf("cap -1: got %d %s, want 400 naming the field", status, body)
			}
			if status, body := patchAI(t, r, pw, map[string]any{field: 2}); status != 200 {
				t.Fatalf("patch: %d %s", status, body)
			}
			v := dial(t, r, client.Options{})
			for i, q := range []string{"tell me about your founders", "and about your history", "and your plans?"} {
				v.send(q)
				if i < 2 {
					n := i + 1
					v.waitMessage(func(m protocol.Message) bool {
						return m.From == protocol.FromBot && m.Via == "ai" && countAI(v) == n
					})
				}
			}
			sys := v.waitMessage(isSystem)
			if !strings.Contains(sys.Text, "I've answered as many questions as I can") {
				t.Errorf("notice %q", sys.Text)
			}
			if got := up.Count(); got != 2 {
				t.Errorf("upstream asked %d times, want 2", got)
			}
		})
	}
}

func countAI(v *visitor) int {
	n := 0
	for _, e := range v.events() {
		if e.typ == protocol.TypeMessage && e.msg.From == protocol.FromBot && e.msg.Via == "ai" {
			n++
		}
	}
	return n
}
