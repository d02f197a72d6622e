package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/internal/mail/smtptest"
)

// An SMTP server that is down delays mail and loses none: the mail waits
// in the outbox (in the database), survives kill -9 of the relay, and
// goes out once when the server is back.
func TestMailOutboxSurvivesKill(t *testing.T) {
	const pw = "admin-password-for-tests"
	srv := smtptest.Start(t, "kefu", "s3cret")
	srv.Stop() // down
	data := t.TempDir()
	addr := freePort(t)
	p := startKefu(t, addr, data, "--admin-password", pw, "--allow-private-destinations=true")
	base := "http://" + addr
	admin := (&apptest.Relay{URL: base}).SignIn(t, "admin", pw)
	if st, body := admin.Do("PUT", "/v1/admin/mail", map[string]any{
		"enabled": true, "host": "127.0.0.1", "port": srv.Port(), "security": "none", "username": "kefu", "password": "s3cret",
		"from": "support@shop.test", "agent_to": []string{"team@shop.test"}, "base_url": base, "batch_seconds": 1,
	}); st != 200 {
		t.Fatalf("mail settings: %d %s", st, body)
	}
	res, err := http.Post(base+"/v1/conversations", "application/json", strings.NewReader(`{"last_seq":0}`))
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		Token          string `json:"token"`
		ConversationID string `json:"conversation_id"`
	}
	json.NewDecoder(res.Body).Decode(&w)
	res.Body.Close()
	req, _ := http.NewRequest("POST", base+"/v1/conversations/"+w.ConversationID+"/messages", strings.NewReader(`{"id":"m1","text":"I want to talk to a real person"}`))
	req.Header.Set("Authorization", "Bearer "+w.Token)
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("send: %v %v", err, res)
	}
	// Tried, failed (nobody listens on the port), waiting: the admin page
	// shows the error only once the failed attempt is stored, so the kill
	// below cannot land while the entry is still claimed (a claim is kept
	// from every sender for two minutes, longer than the wait after it).
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, body := admin.Do("GET", "/v1/admin/mail", nil)
		var v struct {
			Outbox struct {
				Pending   int
				LastError string `json:"last_error"`
			}
		}
		json.Unmarshal(body, &v)
		if v.Outbox.Pending == 1 && strings.Contains(v.Outbox.LastError, "connect") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mail is not waiting after a failed attempt: %s", body)
		}
		time.Sleep(50 * time.Millisecond) // polling with a deadline
	}
	p.kill()
	srv.Restart(t)
	startKefu(t, addr, data, "--allow-private-destinations=true")
	got := srv.Wait(t, 1, 90*time.Second)
	if len(got[0].To) != 1 || got[0].To[0] != "team@shop.test" || !strings.Contains(got[0].Data, w.ConversationID) {
		t.Fatalf("mail after the restart: %+v", got[0])
	}
	admin = (&apptest.Relay{URL: base}).SignIn(t, "admin", pw)
	deadline = time.Now().Add(60 * time.Second)
	for {
		_, body := admin.Do("GET", "/v1/admin/mail", nil)
		if strings.Contains(string(body), `"pending":0`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox not empty: %s", body)
		}
		time.Sleep(50 * time.Millisecond) // polling with a deadline
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d mails, want exactly 1", n)
	}
}
