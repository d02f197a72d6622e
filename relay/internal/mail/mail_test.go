package mail_test

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/mail/smtptest"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

const adminPassword = "admin-password-for-tests"

var bg = context.Background()

// parts decodes a mail's text and HTML parts.
func parts(t *testing.T, m smtptest.Message) (text, html string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(m.Data))
	if err != nil {
		t.Fatalf("not a mail: %v\n%s", err, m.Data)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(quotedprintable.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain"):
			text = string(b)
		case strings.HasPrefix(p.Header.Get("Content-Type"), "text/html"):
			html = string(b)
		}
	}
	if text == "" || html == "" {
		t.Fatalf("a mail without both parts:\n%s", m.Data)
	}
	return text, html
}

func subject(t *testing.T, m smtptest.Message) string {
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// setup starts a relay and an SMTP server and turns mail on.
func setup(t *testing.T, extra map[string]any) (*apptest.Relay, *apptest.Session, *smtptest.Server) {
	t.Helper()
	srv := smtptest.Start(t, "kefu", "s3cret")
	r := apptest.Start(t, func(c *config.Config) { c.AdminPassword = adminPassword })
	admin := r.SignIn(t, "admin", adminPassword)
	set := map[string]any{
		"enabled": true, "host": "127.0.0.1", "port": srv.Port(), "security": "none", "username": "kefu", "password": "s3cret",
		"from": "support@shop.test", "from_name": "Shop <Support>", "agent_to": []string{"team@shop.test"},
		"base_url": r.URL, "batch_seconds": 5, "visitor_delay_seconds": 0,
	}
	for k, v := range extra {
		set[k] = v
	}
	if st, body := admin.Do("PUT", "/v1/admin/mail", set); st != 200 {
		t.Fatalf("mail settings: %d %s", st, body)
	}
	return r, admin, srv
}

func call(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
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
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func newVisitor(t *testing.T, r *apptest.Relay) (token, conv string) {
	t.Helper()
	st, w := call(t, "POST", r.URL+"/v1/conversations", "", `{"last_seq":0,"lang":"de"}`)
	if st != 200 {
		t.Fatalf("start: %d %v", st, w)
	}
	return w["token"].(string), w["conversation_id"].(string)
}

// outboxEmpty waits until nothing is pending in the outbox.
func outboxEmpty(t *testing.T, admin *apptest.Session) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, body := admin.Do("GET", "/v1/admin/mail", nil)
		var v struct{ Outbox struct{ Pending, Failed int } }
		json.Unmarshal(body, &v)
		if v.Outbox.Pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox still has %d pending: %s", v.Outbox.Pending, body)
		}
		time.Sleep(50 * time.Millisecond) // polling with a deadline
	}
}

// waitDropped waits until n mails were dropped (the visitor was back).
func waitDropped(t *testing.T, admin *apptest.Session, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, body := admin.Do("GET", "/v1/admin/mail", nil)
		var v struct{ Outbox struct{ Dropped int } }
		json.Unmarshal(body, &v)
		if v.Outbox.Dropped >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails dropped, want %d: %s", v.Outbox.Dropped, n, body)
		}
		time.Sleep(50 * time.Millisecond) // polling with a deadline
	}
}

// With nobody online, the team gets one mail when a conversation starts
// waiting, with the console's link, then one mail for a burst of visitor
// replies: once per batch, not once per message.
func TestAgentMailOncePerBatch(t *testing.T) {
	r, admin, srv := setup(t, nil)
	tok, conv := newVisitor(t, r)
	if st, m := call(t, "POST", r.URL+"/v1/conversations/"+conv+"/messages", tok, `{"id":"m1","text":"I want to talk to a real person about order <42>"}`); st != 200 {
		t.Fatalf("send: %d %v", st, m)
	}
	first := srv.Wait(t, 1, 60*time.Second)[0]
	if len(first.To) != 1 || first.To[0] != "team@shop.test" || first.From != "support@shop.test" {
		t.Fatalf("envelope %v → %v", first.From, first.To)
	}
	if s := subject(t, first); !strings.HasPrefix(s, "New conversation waiting") || !strings.Contains(s, "order <42>") {
		t.Errorf("subject %q", s)
	}
	text, html := parts(t, first)
	link := r.URL + "/console/#c=" + conv
	if !strings.Contains(text, link) || !strings.Contains(html, `href="`+link+`"`) {
		t.Errorf("no console link %s in\n%s\n%s", link, text, html)
	}
	if strings.Contains(html, "<42>") || !strings.Contains(html, "&lt;42&gt;") {
		t.Errorf("the visitor's text is not escaped in the HTML part:\n%s", html)
	}
	for _, h := range []string{"Message-ID", "In-Reply-To", "Date", "From"} {
		if first.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if first.Header.Get("In-Reply-To") != "<conversation."+conv+"@shop.test>" {
		t.Errorf("In-Reply-To %q", first.Header.Get("In-Reply-To"))
	}

	// Three replies in one commit: one mail about the three.
	_, err := r.Store.Append(bg, conv,
		store.NewMessage{From: protocol.FromVisitor, Text: "hello?"},
		store.NewMessage{From: protocol.FromVisitor, Text: "anyone there?"},
		store.NewMessage{From: protocol.FromVisitor, Text: "my order is late"})
	if err != nil {
		t.Fatal(err)
	}
	second := srv.Wait(t, 2, 60*time.Second)[1]
	if s := subject(t, second); s != "3 new messages from A visitor" {
		t.Errorf("batch subject %q", s)
	}
	text, _ = parts(t, second)
	for _, want := range []string{"hello?", "anyone there?", "my order is late", link} {
		if !strings.Contains(text, want) {
			t.Errorf("batch mail lacks %q:\n%s", want, text)
		}
	}
	outboxEmpty(t, admin)
	if n := len(srv.Messages()); n != 2 {
		t.Fatalf("%d mails, want 2 (one per batch)", n)
	}
}

// The agent's reply is mailed only when the visitor is gone, in their
// language, escaped, with a link back to the page and a working
// unsubscribe link; the transcript comes at close when they asked.
func TestVisitorMailOnlyWhenGone(t *testing.T) {
	r, admin, srv := setup(t, map[string]any{"agent_to": []string{}})
	tok, conv := newVisitor(t, r)
	if st, m := call(t, "POST", r.URL+"/v1/conversations/"+conv+"/contact", tok,
		`{"email":"ann@example.com","name":"Ann","transcript":true,"page":"https://shop.example/p?id=1"}`); st != 200 {
		t.Fatalf("contact: %d %v", st, m)
	}
	// The visitor has the chat open (an event stream).
	ctx, cancel := context.WithCancel(bg)
	req, _ := http.NewRequestWithContext(ctx, "GET", r.URL+"/v1/conversations/"+conv+"/events?after=0", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("events: %v %v", err, res)
	}
	agent := store.NewMessage{From: protocol.FromAgent, Author: "Mei", AuthorID: "mei", Text: "seen live"}
	if _, err := r.Store.Append(bg, conv, agent); err != nil {
		t.Fatal(err)
	}
	waitDropped(t, admin, 1)
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d mails while the visitor had the chat open", n)
	}
	cancel()
	res.Body.Close()

	agent.Text = "Your parcel ships <b>today</b> & arrives Monday"
	if _, err := r.Store.Append(bg, conv, agent); err != nil {
		t.Fatal(err)
	}
	got := srv.Wait(t, 1, 60*time.Second)[0]
	if len(got.To) != 1 || got.To[0] != "ann@example.com" {
		t.Fatalf("to %v", got.To)
	}
	if s := subject(t, got); s != "Neue Antwort von Shop <Support>" {
		t.Errorf("subject %q (German: the visitor's language)", s)
	}
	text, html := parts(t, got)
	if !strings.Contains(text, "Your parcel ships <b>today</b> & arrives Monday") || strings.Contains(text, "seen live") {
		t.Errorf("text part:\n%s", text)
	}
	if strings.Contains(html, "<b>today") || !strings.Contains(html, "&lt;b&gt;today&lt;/b&gt; &amp; arrives") {
		t.Errorf("HTML part does not escape the message:\n%s", html)
	}
	if !strings.Contains(html, `href="https://shop.example/p?id=1#kefu-open"`) {
		t.Errorf("no link back to the chat's page:\n%s", html)
	}
	unsub := strings.Trim(got.Header.Get("List-Unsubscribe"), "<>")
	if !strings.HasPrefix(unsub, r.URL+"/v1/mail/unsubscribe?") || got.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Fatalf("unsubscribe headers %q %q", unsub, got.Header.Get("List-Unsubscribe-Post"))
	}

	// Closing sends the transcript they asked for.
	if _, err := r.Store.UpdateConversation(bg, conv, store.Close); err != nil {
		t.Fatal(err)
	}
	tr := srv.Wait(t, 2, 60*time.Second)[1]
	if s := subject(t, tr); s != "Ihr Gespräch mit Shop <Support>" {
		t.Errorf("transcript subject %q", s)
	}
	if text, _ := parts(t, tr); !strings.Contains(text, "seen live") || !strings.Contains(text, "arrives Monday") {
		t.Errorf("transcript:\n%s", text)
	}

	// A forged link does nothing; GET asks, POST unsubscribes; no more mail.
	if res, err := http.Post(r.URL+"/v1/mail/unsubscribe?v=x&t=y", "", nil); err != nil || res.StatusCode != 404 {
		t.Fatalf("forged unsubscribe: %v %v", err, res.StatusCode)
	}
	if res, err := http.Get(unsub); err != nil || res.StatusCode != 200 {
		t.Fatalf("unsubscribe page: %v", err)
	}
	if res, err := http.Post(unsub, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click")); err != nil || res.StatusCode != 200 {
		t.Fatalf("unsubscribe: %v", err)
	}
	c, _ := r.Store.Conversation(conv)
	if v, err := r.Store.Visitor(c.VisitorID); err != nil || v.Contact == nil || !v.Contact.Unsubscribed {
		t.Fatalf("not unsubscribed: %+v %v", v.Contact, err)
	}
	agent.Text = "after unsubscribing"
	if _, err := r.Store.Append(bg, conv, agent); err != nil {
		t.Fatal(err)
	}
	outboxEmpty(t, admin)
	if n := len(srv.Messages()); n != 2 {
		t.Fatalf("%d mails after unsubscribing, want still 2", n)
	}
}

// A wrong password: the admin's test mail says so plainly, mail waits in
// the outbox with that error shown, the relay goes on chatting; the right
// password sends what waited.
func TestBadPasswordIsClearAndLosesNothing(t *testing.T) {
	r, admin, srv := setup(t, map[string]any{"password": "wrong"})
	st, body := admin.Do("POST", "/v1/admin/mail/test", map[string]string{"to": "me@shop.test"})
	if st != 502 || !strings.Contains(string(body), `"smtp_failed"`) || !strings.Contains(string(body), "refused the user name or password") || !strings.Contains(string(body), "535") {
		t.Fatalf("test mail with a bad password: %d %s", st, body)
	}
	if st, body := admin.Do("POST", "/v1/admin/mail/test", map[string]string{"to": "Me <me@shop.test>"}); st != 400 {
		t.Fatalf("test mail to a bad address: %d %s", st, body)
	}
	tok, conv := newVisitor(t, r)
	if st, m := call(t, "POST", r.URL+"/v1/conversations/"+conv+"/messages", tok, `{"id":"m1","text":"I want to talk to a real person"}`); st != 200 {
		t.Fatalf("the relay stopped chatting: %d %v", st, m)
	}
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
		if v.Outbox.Pending == 1 && strings.Contains(v.Outbox.LastError, "refused the user name or password") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outbox does not show the failure: %s", body)
		}
		time.Sleep(50 * time.Millisecond) // polling with a deadline
	}
	if res, err := http.Get(r.URL + "/readyz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", err, res)
	}
	if st, m := call(t, "POST", r.URL+"/v1/conversations/"+conv+"/messages", tok, `{"id":"m2","text":"still there?"}`); st != 200 {
		t.Fatalf("the relay stopped chatting: %d %v", st, m)
	}
	// The password is write-only: GET never shows it.
	if _, body := admin.Do("GET", "/v1/admin/mail", nil); strings.Contains(string(body), "wrong") || !strings.Contains(string(body), `"has_password":true`) {
		t.Fatalf("GET shows the password or hides that one is set: %s", body)
	}
	_, body = admin.Do("GET", "/v1/admin/mail", nil)
	var cur struct{ Settings map[string]any }
	json.Unmarshal(body, &cur)
	cur.Settings["password"] = "s3cret"
	if st, body := admin.Do("PUT", "/v1/admin/mail", cur.Settings); st != 200 {
		t.Fatalf("fix the password: %d %s", st, body)
	}
	got := srv.Wait(t, 1, 60*time.Second)[0]
	if s := subject(t, got); !strings.HasPrefix(s, "New conversation waiting") {
		t.Fatalf("subject %q", s)
	}
	if st, body := admin.Do("POST", "/v1/admin/mail/test", map[string]string{"to": "me@shop.test"}); st != 200 {
		t.Fatalf("test mail: %d %s", st, body)
	}
	// Stored sealed: the file holds no password in clear.
	var raw map[string]any
	if _, err := r.Store.Setting("mail", &raw); err != nil || !strings.HasPrefix(raw["password_sealed"].(string), "kefu-sealed-v1:") {
		t.Fatalf("stored password: %v %v", raw["password_sealed"], err)
	}
}

// A visitor's reply to the mail, posted raw by the shop's mail server,
// lands in their conversation once, quote cut; another sender, a wrong
// key or a mail answering nothing is refused with the reason.
func TestReplyByEmail(t *testing.T) {
	r, admin, _ := setup(t, map[string]any{"agent_to": []string{}})
	tok, conv := newVisitor(t, r)
	if st, m := call(t, "POST", r.URL+"/v1/conversations/"+conv+"/contact", tok, `{"email":"ann@example.com"}`); st != 200 {
		t.Fatalf("contact: %d %v", st, m)
	}
	_, body := admin.Do("GET", "/v1/admin/mail", nil)
	var v struct {
		InboundURL string `json:"inbound_url"`
	}
	json.Unmarshal(body, &v)
	if !strings.HasPrefix(v.InboundURL, r.URL+"/v1/mail/inbound/") {
		t.Fatalf("inbound url %q", v.InboundURL)
	}
	raw := func(from string) string {
		return "From: " + from + "\r\nMessage-ID: <reply-1@example.com>\r\nIn-Reply-To: <conversation." + conv + "@shop.test>\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\n\r\nYes, Monday is fine <b>.\r\n\r\nOn Mon, Shop wrote:\r\n> old text\r\n"
	}
	post := func(url, body string) (int, map[string]any) {
		res, err := http.Post(url, "message/rfc822", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	if st, m := post(v.InboundURL, raw("Mallory <mallory@example.com>")); st != 403 {
		t.Fatalf("another sender: %d %v", st, m)
	}
	if st, _ := post(r.URL+"/v1/mail/inbound/wrong", raw("ann@example.com")); st != 404 {
		t.Fatalf("a wrong key: %d", st)
	}
	if st, m := post(v.InboundURL, "From: ann@example.com\r\n\r\nhello"); st != 422 {
		t.Fatalf("a mail answering nothing: %d %v", st, m)
	}
	st, m := post(v.InboundURL, raw("Ann <ANN@example.com>"))
	if st != 200 || m["duplicate"] != false {
		t.Fatalf("reply: %d %v", st, m)
	}
	if st, m := post(v.InboundURL, raw("ann@example.com")); st != 200 || m["duplicate"] != true {
		t.Fatalf("the same mail again: %d %v", st, m)
	}
	msgs, err := r.Store.Messages(conv, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, msg := range msgs {
		if msg.From == protocol.FromVisitor {
			got = append(got, msg.Text+"|"+msg.Via)
		}
	}
	if len(got) != 1 || got[0] != "Yes, Monday is fine <b>.|email" {
		t.Fatalf("visitor messages %q", got)
	}
}
