package files_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/files"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

const adminPassword = "admin-password-for-files"

// client is a visitor (bearer token) or a signed-in agent (cookies, CSRF).
type client struct {
	t      *testing.T
	r      *apptest.Relay
	http   *http.Client
	token  string // visitor
	csrf   string // agent
	conv   string
	prefix string // where its endpoints are
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) code() string {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	json.Unmarshal(r.body, &e)
	return e.Error.Code
}

func (r reply) status2() files.Status {
	var st files.Status
	json.Unmarshal(r.body, &st)
	return st
}

func start(t *testing.T, mutate func(*config.Config)) *apptest.Relay {
	return apptest.Start(t, func(c *config.Config) {
		c.AdminPassword = adminPassword
		c.AllowedOrigins = []string{"shop.example.com"}
		if mutate != nil {
			mutate(c)
		}
	})
}

func newVisitor(t *testing.T, r *apptest.Relay) *client {
	t.Helper()
	c := &client{t: t, r: r, http: &http.Client{Timeout: 30 * time.Second}}
	res := c.do("POST", "/v1/conversations", "", nil)
	var w protocol.Welcome
	if err := json.Unmarshal(res.body, &w); err != nil || w.Token == "" {
		t.Fatalf("start: %d %s", res.status, res.body)
	}
	c.token, c.conv = w.Token, w.ConversationID
	c.prefix = "/v1/conversations/" + c.conv
	return c
}

func newAgent(t *testing.T, r *apptest.Relay, conv string) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{t: t, r: r, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}, conv: conv, prefix: "/v1/agent/conversations/" + conv}
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": adminPassword})
	res := c.do("POST", "/v1/auth/login", "application/json", body)
	var login struct{ CSRF string }
	if err := json.Unmarshal(res.body, &login); err != nil || login.CSRF == "" {
		t.Fatalf("login: %d %s", res.status, res.body)
	}
	c.csrf = login.CSRF
	return c
}

func (c *client) do(method, path, ctype string, body []byte, hdr ...string) reply {
	c.t.Helper()
	req, err := http.NewRequest(method, c.r.URL+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Origin", "https://shop.example.com")
	} else {
		req.Header.Set("Origin", c.r.URL)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, data}
}

func (c *client) create(id, name string, size int) reply {
	c.t.Helper()
	body, _ := json.Marshal(files.CreateRequest{ID: id, Name: name, Size: int64(size)})
	return c.do("POST", c.prefix+"/uploads", "application/json", body)
}

func (c *client) part(id string, offset int, data []byte) reply {
	c.t.Helper()
	return c.do("POST", fmt.Sprintf("%s/uploads/%s?offset=%d", c.prefix, id, offset), "application/octet-stream", data)
}

// upload sends a whole file in parts of n bytes and returns the last reply.
func (c *client) upload(id, name string, data []byte, n int) reply {
	c.t.Helper()
	if res := c.create(id, name, len(data)); res.status != 200 {
		return res
	}
	var res reply
	for off := 0; off < len(data); off += n {
		res = c.part(id, off, data[off:min(len(data), off+n)])
		if res.status != 200 {
			return res
		}
	}
	return res
}

func testPNG(t *testing.T, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x * y), uint8(y ^ x*7), uint8(x*13 + y*y), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	// Something hidden after the image's end, as a polyglot would.
	return append(buf.Bytes(), "<script>alert('after IEND')</script>"...)
}

func TestVisitorSendsAPhoto(t *testing.T) {
	r := start(t, nil)
	v := newVisitor(t, r)
	photo := testPNG(t, 900, 700)
	if len(photo) < 100_000 {
		t.Fatalf("the test photo is %d bytes: too small for a thumbnail", len(photo))
	}
	// Resumable: the same creation again finds the upload; a part at the
	// wrong offset is refused with conflict and changes nothing.
	if res := v.create("up-1", "../../broken cup.png", len(photo)); res.status != 200 || res.status2().Offset != 0 || res.status2().Part != store.MaxUploadPart {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	part := len(photo)/3 + 1
	if res := v.part("up-1", 0, photo[:part]); res.status != 200 || res.status2().Offset != int64(part) {
		t.Fatalf("first part: %d %s", res.status, res.body)
	}
	if res := v.create("up-1", "ignored.png", 5); res.status != 200 || res.status2().Offset != int64(part) {
		t.Errorf("create again: %d %s; want the upload where it stands", res.status, res.body)
	}
	if res := v.part("up-1", 0, photo[:part]); res.status != 409 || res.code() != "conflict" {
		t.Errorf("a part resent at offset 0: %d %s; want 409 conflict", res.status, res.body)
	}
	if res := v.do("GET", v.prefix+"/uploads/up-1", "", nil); res.status != 200 || res.status2().Offset != int64(part) {
		t.Errorf("status: %d %s", res.status, res.body)
	}
	var res reply
	for off := part; off < len(photo); off += part {
		res = v.part("up-1", off, photo[off:min(len(photo), off+part)])
		if res.status != 200 {
			t.Fatalf("part at %d: %d %s", off, res.status, res.body)
		}
	}
	st := res.status2()
	if !st.Done || st.Message == nil || st.Message.Attachment == nil {
		t.Fatalf("last part: %s; want done with its message", res.body)
	}
	m := *st.Message
	a := *m.Attachment
	if m.From != "visitor" || m.Text != "broken cup.png" || a.Name != "broken cup.png" || a.Type != "image/png" || a.Width != 900 || a.Height != 700 || !a.Thumb {
		t.Errorf("message = %+v, attachment %+v", m, a)
	}
	// The message is in the conversation, once, for every reader.
	list := v.do("GET", v.prefix+"/messages", "", nil)
	if !strings.Contains(string(list.body), a.ID) || strings.Count(string(list.body), `"attachment"`) != 1 {
		t.Errorf("messages: %s", list.body)
	}
	// Finishing again (a lost answer) stores nothing new.
	if res := v.do("GET", v.prefix+"/uploads/up-1", "", nil); res.status != 404 {
		t.Errorf("a finished upload's status: %d %s; want 404", res.status, res.body)
	}

	// Served to the visitor, with the headers that keep it inert.
	got := v.do("GET", v.prefix+"/attachments/"+a.ID, "", nil)
	if got.status != 200 {
		t.Fatalf("GET attachment: %d %s", got.status, got.body)
	}
	h := got.header
	for k, want := range map[string]string{
		"Content-Type": "image/png", "X-Content-Type-Options": "nosniff", "Cross-Origin-Resource-Policy": "same-origin",
		"Access-Control-Allow-Origin": "https://shop.example.com",
	} {
		if h.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, h.Get(k), want)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP = %q; want a sandbox that allows nothing", csp)
	}
	if cd := h.Get("Content-Disposition"); !strings.HasPrefix(cd, `inline; filename="broken cup.png"`) {
		t.Errorf("Content-Disposition = %q", cd)
	}
	if bytes.Contains(got.body, []byte("<script")) {
		t.Error("the stored image still carries the script appended to it")
	}
	if _, err := png.Decode(bytes.NewReader(got.body)); err != nil {
		t.Errorf("served image does not decode: %v", err)
	}
	thumb := v.do("GET", v.prefix+"/attachments/"+a.ID+"?thumb=1", "", nil)
	if thumb.status != 200 || thumb.header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("thumbnail: %d %s", thumb.status, thumb.header.Get("Content-Type"))
	} else if img, _, err := image.Decode(bytes.NewReader(thumb.body)); err != nil || img.Bounds().Dx() != files.ThumbSide {
		t.Errorf("thumbnail decodes to %v, %v", img, err)
	}
	// Cached copies are checked by their hash.
	if again := v.do("GET", v.prefix+"/attachments/"+a.ID, "", nil, "If-None-Match", h.Get("ETag")); again.status != 304 {
		t.Errorf("a revalidation: %d, want 304", again.status)
	}

	// Nobody else: another visitor, no token, a guessed id.
	other := newVisitor(t, r)
	if res := other.do("GET", v.prefix+"/attachments/"+a.ID, "", nil); res.status != 404 {
		t.Errorf("another visitor's GET: %d, want 404", res.status)
	}
	if res := other.do("GET", other.prefix+"/attachments/"+a.ID, "", nil); res.status != 404 {
		t.Errorf("another visitor asking under their own conversation: %d, want 404", res.status)
	}
	anon := *v
	anon.token = ""
	if res := anon.do("GET", v.prefix+"/attachments/"+a.ID, "", nil); res.status != 401 {
		t.Errorf("no token: %d, want 401", res.status)
	}

	// An agent sees it with their session.
	ag := newAgent(t, r, v.conv)
	if res := ag.do("GET", ag.prefix+"/attachments/"+a.ID, "", nil); res.status != 200 || !bytes.Equal(res.body, got.body) {
		t.Errorf("agent GET: %d, %d bytes", res.status, len(res.body))
	}
}

func TestRefusedFiles(t *testing.T) {
	r := start(t, func(c *config.Config) { c.VisitorFileQuota = 3 << 20 })
	v := newVisitor(t, r)
	for _, tc := range []struct {
		name   string
		data   []byte
		status int
		code   string
	}{
		{"page.png", []byte("<!doctype html><html><script>alert(1)</script></html>"), 415, "file_type"},
		{"logo.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), 415, "file_type"},
		{"photo.png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01"), 422, "file_unreadable"},
	} {
		res := v.upload("bad-"+strings.Split(tc.name, ".")[0], tc.name, tc.data, 1000)
		if res.status != tc.status || res.code() != tc.code {
			t.Errorf("%s: %d %s; want %d %s", tc.name, res.status, res.body, tc.status, tc.code)
		}
	}
	// Refused uploads are gone, and nothing reached the conversation.
	if res := v.do("GET", v.prefix+"/uploads/bad-page", "", nil); res.status != 404 {
		t.Errorf("a refused upload's status: %d, want 404", res.status)
	}
	if list := v.do("GET", v.prefix+"/messages", "", nil); strings.Contains(string(list.body), "attachment") {
		t.Errorf("a refused file reached the conversation: %s", list.body)
	}
	// Too big, announced: refused before a byte is sent.
	if res := v.create("big", "video.png", 50<<20); res.status != 413 || res.code() != "file_too_big" || !strings.Contains(string(res.body), "10 MB") {
		t.Errorf("a 50 MB file: %d %s", res.status, res.body)
	}
	// More bytes than announced.
	v.create("liar", "a.txt", 10)
	if res := v.part("liar", 0, []byte("more than ten bytes")); res.status != 413 || res.code() != "file_too_big" {
		t.Errorf("more than announced: %d %s", res.status, res.body)
	}
	v.do("POST", v.prefix+"/uploads/liar/cancel", "", nil)
	// The quota: 3 MB in all, unfinished uploads counted in full.
	if res := v.create("q1", "a.txt", 2<<20); res.status != 200 {
		t.Fatalf("q1: %d %s", res.status, res.body)
	}
	if res := v.create("q2", "b.txt", 2<<20); res.status != 413 || res.code() != "quota_exceeded" {
		t.Errorf("over the quota: %d %s", res.status, res.body)
	}
	if res := v.do("POST", v.prefix+"/uploads/q1/cancel", "", nil); res.status != 204 {
		t.Errorf("cancel: %d %s", res.status, res.body)
	}
	if res := v.create("q2", "b.txt", 2<<20); res.status != 200 {
		t.Errorf("after a cancel the quota has room: %d %s", res.status, res.body)
	}
	// Malformed requests.
	if res := v.create("bad id!", "a.txt", 3); res.status != 400 || res.code() != "bad_field" {
		t.Errorf("a bad id: %d %s", res.status, res.body)
	}
	if res := v.do("POST", v.prefix+"/uploads/q2?offset=0", "image/png", []byte("x")); res.status != 415 {
		t.Errorf("a part that is not octet-stream: %d %s", res.status, res.body)
	}
	if res := v.do("POST", v.prefix+"/uploads/q2?offset=-1", "application/octet-stream", []byte("x")); res.status != 400 {
		t.Errorf("a negative offset: %d %s", res.status, res.body)
	}
	if res := v.part("q2", 0, make([]byte, store.MaxUploadPart+1)); res.status != 413 || res.code() != "frame_too_big" {
		t.Errorf("a part over the limit: %d %s", res.status, res.body)
	}
}

func TestAgentSendsAFile(t *testing.T) {
	r := start(t, nil)
	v := newVisitor(t, r)
	ag := newAgent(t, r, v.conv)
	res := ag.upload("a1", "invoice.pdf", []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"), 20)
	st := res.status2()
	if res.status != 200 || !st.Done || st.Message.From != "agent" || st.Message.Author != "Admin" || st.Message.Attachment.Type != "application/pdf" {
		t.Fatalf("agent upload: %d %s", res.status, res.body)
	}
	// The visitor gets it as a download.
	got := v.do("GET", v.prefix+"/attachments/"+st.Message.Attachment.ID, "", nil)
	if got.status != 200 || !strings.HasPrefix(got.header.Get("Content-Disposition"), `attachment; filename="invoice.pdf"`) {
		t.Errorf("visitor GET of a PDF: %d %q", got.status, got.header.Get("Content-Disposition"))
	}
	// Without the CSRF token an agent's change is refused.
	noCSRF := *ag
	noCSRF.csrf = ""
	if res := noCSRF.create("a2", "x.txt", 3); res.status != 403 {
		t.Errorf("no CSRF token: %d %s", res.status, res.body)
	}
	// An agent's files do not count against the visitor's quota.
	if res := ag.create("a3", "big.txt", 10<<20); res.status != 200 {
		t.Errorf("an agent's 10 MB: %d %s", res.status, res.body)
	}
}

// TestFinishAfterACrash: an upload whose bytes are all stored but that
// was never finished (the relay died before) is finished when its sender
// asks where it stands, and by the sweep when nobody asks.
func TestFinishAfterACrash(t *testing.T) {
	now := time.Now()
	r := start(t, nil)
	ctx := context.Background()
	v := newVisitor(t, r)
	data := testPNG(t, 50, 40)
	for _, id := range []string{"asked", "swept"} {
		if _, _, err := r.Store.CreateUpload(ctx, store.Upload{ConversationID: v.conv, ID: id, AttachmentID: store.NewID(), Name: id + ".png", Size: int64(len(data)), From: "visitor", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Store.AppendUpload(ctx, v.conv, id, 0, data); err != nil {
			t.Fatal(err)
		}
	}
	// Half an upload nobody continues.
	if _, _, err := r.Store.CreateUpload(ctx, store.Upload{ConversationID: v.conv, ID: "half", AttachmentID: store.NewID(), Name: "h.png", Size: 100, From: "visitor", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	res := v.do("GET", v.prefix+"/uploads/asked", "", nil)
	if st := res.status2(); res.status != 200 || !st.Done || st.Message == nil {
		t.Fatalf("status of a full upload: %d %s", res.status, res.body)
	}
	svc := files.New(files.Options{MaxBytes: 10 << 20, VisitorQuota: 50 << 20, Now: func() time.Time { return now.Add(25 * time.Hour) }}, r.Store, nil)
	fin, dropped, err := svc.Sweep(ctx)
	if err != nil || fin != 1 || dropped != 1 {
		t.Errorf("sweep = %d finished, %d dropped, %v; want 1, 1", fin, dropped, err)
	}
	msgs, err := r.Store.Messages(v.conv, 0, 0)
	if err != nil || len(msgs) != 2 || msgs[0].Attachment == nil || msgs[1].Attachment == nil {
		t.Fatalf("messages = %+v, %v; want the two files", msgs, err)
	}
	if ups, _ := r.Store.Uploads(v.conv); len(ups) != 0 {
		t.Errorf("uploads left: %+v", ups)
	}
}

func TestAttachmentsOff(t *testing.T) {
	r := start(t, func(c *config.Config) { c.MaxFileBytes = 0 })
	v := newVisitor(t, r)
	if res := v.create("x", "a.txt", 3); res.status != 404 || res.code() != "not_supported" {
		t.Errorf("create with attachments off: %d %s", res.status, res.body)
	}
	cfg := v.do("GET", "/v1/widget/config", "", nil)
	var c struct {
		Files any    `json:"files"`
		Extra string `json:"extra"`
	}
	json.Unmarshal(cfg.body, &c)
	if c.Files != nil || c.Extra == "" {
		t.Errorf("config with attachments off: files %v, extra %q; want null and the script (ratings)", c.Files, c.Extra)
	}
}

func TestPreflight(t *testing.T) {
	r := start(t, nil)
	v := newVisitor(t, r)
	res := v.do("OPTIONS", v.prefix+"/uploads/x", "", nil, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type")
	if res.status != 204 || res.header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" || !strings.Contains(res.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", res.status, res.header)
	}
}
