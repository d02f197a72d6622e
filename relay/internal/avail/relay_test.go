package avail_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/internal/avail"
	"github.com/kefuhq/kefu/relay/internal/bot"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/i18n"
	"github.com/kefuhq/kefu/relay/internal/store"
)

const adminPassword = "admin-password-for-tests"

func call(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var m map[string]any
	json.Unmarshal(data, &m)
	return res.StatusCode, m
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// Outside business hours (today and tomorrow are holidays) the widget's
// config says away until the day after tomorrow; a visitor who asks for a
// person is told so in their language and asked for an email, which is
// stored on the visitor; bad contacts and bad settings get clear errors.
func TestAwayHandOffAsksForAnEmail(t *testing.T) {
	r := apptest.Start(t, func(c *config.Config) { c.AdminPassword = adminPassword })
	admin := r.SignIn(t, "admin", adminPassword)

	now := time.Now().UTC()
	set := avail.DefaultSettings()
	for d := 0; d < 7; d++ {
		set.Hours = append(set.Hours, avail.Span{Day: d, From: "00:00", To: "24:00"})
	}
	set.Holidays = []string{now.Format(time.DateOnly), now.AddDate(0, 0, 1).Format(time.DateOnly)}
	back := time.Date(now.Year(), now.Month(), now.Day()+2, 0, 0, 0, 0, time.UTC)
	if st, body := admin.Do("PUT", "/v1/admin/availability", set); st != 200 {
		t.Fatalf("put availability: %d %s", st, body)
	}
	bad := set
	bad.TimeZone = "Mars/Olympus"
	if st, body := admin.Do("PUT", "/v1/admin/availability", bad); st != 400 || !strings.Contains(string(body), "time_zone") {
		t.Fatalf("a bad zone: %d %s", st, body)
	}
	if st, _ := call(t, "GET", r.URL+"/v1/admin/availability", "", ""); st != 401 {
		t.Fatalf("settings without signing in: %d", st)
	}

	st, cfg := call(t, "GET", r.URL+"/v1/widget/config?lang=de", "", "")
	av, _ := cfg["availability"].(map[string]any)
	if st != 200 || av["state"] != avail.Away || av["until"] != back.Format(time.RFC3339) {
		t.Fatalf("config availability: %d %v (want away until %s)", st, av, back.Format(time.RFC3339))
	}

	st, w := call(t, "POST", r.URL+"/v1/conversations", "", `{"last_seq":0,"lang":"de"}`)
	if st != 200 {
		t.Fatalf("start: %d %v", st, w)
	}
	tok, conv := w["token"].(string), w["conversation_id"].(string)
	if st, m := call(t, "POST", r.URL+"/v1/conversations/"+conv+"/messages", tok, `{"id":"m1","text":"I want to talk to a real person"}`); st != 200 {
		t.Fatalf("send: %d %v", st, m)
	}
	var notice store.Message
	deadline := time.Now().Add(30 * time.Second)
	for notice.Text == "" && time.Now().Before(deadline) {
		msgs, err := r.Store.Messages(conv, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.From == "system" {
				notice = m
			}
		}
		if notice.Text == "" {
			time.Sleep(20 * time.Millisecond) // polling the store, with a deadline
		}
	}
	want := i18n.Builtin().Relay("de", "handoffAway", "time", bot.When(back, time.UTC)) + " " + i18n.Builtin().Relay("de", "handoffContact")
	if notice.Text != want || notice.Via != bot.ViaContact {
		t.Fatalf("hand-off notice %q via %q, want %q via contact", notice.Text, notice.Via, want)
	}

	path := r.URL + "/v1/conversations/" + conv + "/contact"
	for _, tc := range []struct {
		name, token, body string
		status            int
		code              string
	}{
		{"no token", "", `{"email":"ann@example.com"}`, 401, "unauthorized"},
		{"not an address", tok, `{"email":"ann"}`, 400, "bad_field"},
		{"a display name", tok, `{"email":"Ann <ann@example.com>"}`, 400, "bad_field"},
		{"two addresses", tok, `{"email":"ann@example.com, bob@example.com"}`, 400, "bad_field"},
		{"a header in the name", tok, `{"email":"ann@example.com","name":"Ann\r\nBcc: x@y.z"}`, 400, "bad_field"},
		{"a script page", tok, `{"email":"ann@example.com","page":"javascript:alert(1)"}`, 400, "bad_field"},
		{"not JSON", tok, `email=ann`, 400, ""},
	} {
		if st, m := call(t, "POST", path, tc.token, tc.body); st != tc.status || (tc.code != "" && errCode(m) != tc.code) {
			t.Errorf("%s: %d %v, want %d %s", tc.name, st, m, tc.status, tc.code)
		}
	}
	if st, m := call(t, "POST", path, tok, `{"email":" ann@example.com ","name":"Ann <b>","transcript":true,"page":"https://shop.example/p?id=1#kefu"}`); st != 200 || m["email"] != "ann@example.com" {
		t.Fatalf("contact: %d %v", st, m)
	}
	c, err := r.Store.Conversation(conv)
	if err != nil {
		t.Fatal(err)
	}
	vis, err := r.Store.Visitor(c.VisitorID)
	if err != nil {
		t.Fatal(err)
	}
	if vis.Contact == nil || vis.Contact.Email != "ann@example.com" || vis.Contact.Name != "Ann <b>" || !vis.Contact.Transcript ||
		vis.Contact.Page != "https://shop.example/p?id=1" {
		t.Fatalf("stored contact %+v", vis.Contact)
	}
	// The email is the visitor's data: the privacy search finds them by it.
	if st, body := admin.Do("GET", "/v1/admin/visitors?email=ANN@example.com", nil); st != 200 || !strings.Contains(string(body), vis.ID) {
		t.Fatalf("find by the email left: %d %s", st, body)
	}
}
