package mail

import (
	"io"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"
)

// Whatever the subject and names hold, the message parses, keeps its one
// set of headers (no line break starts a header of its own) and decodes
// the subject back.
func FuzzMessageHeaders(f *testing.F) {
	f.Add("Hello", "Shop", "body")
	f.Add("x\r\nBcc: evil@example.com", "Shop\nX-Evil: 1", "line\r\n.\r\nQUIT")
	f.Add("Ünïcödé — 你好 <b>", "\"quoted\" name", "=3D=\r\n")
	f.Fuzz(func(t *testing.T, subject, name, text string) {
		m := Message{From: "support@shop.test", FromName: name, To: []string{"ann@example.com"}, Subject: subject,
			MessageID: "a.1@shop.test", InReplyTo: "conversation.x@shop.test", Text: text, HTML: "<p>x</p>", Date: time.Unix(0, 0)}
		msg, err := mail.ReadMessage(strings.NewReader(string(m.Bytes())))
		if err != nil {
			t.Fatalf("does not parse: %v", err)
		}
		for k := range msg.Header {
			switch k {
			case "From", "To", "Subject", "Date", "Message-Id", "In-Reply-To", "References", "Auto-Submitted", "Mime-Version", "Content-Type":
			default:
				t.Fatalf("unexpected header %q", k)
			}
		}
		if got := msg.Header.Get("To"); got != "ann@example.com" {
			t.Fatalf("To %q", got)
		}
		io.Copy(io.Discard, msg.Body)
		if dec, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err == nil && !strings.ContainsAny(subject, "\r\n") && strings.TrimSpace(dec) != strings.TrimSpace(subject) && isPrintable(subject) {
			t.Errorf("subject %q read back as %q", subject, dec)
		}
	})
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return strings.ToValidUTF8(s, "") == s
}

func TestValidate(t *testing.T) {
	ok := func() Settings {
		s := DefaultSettings()
		s.Enabled, s.Host, s.From, s.BaseURL = true, "smtp.example.com", "support@example.com", "https://chat.example.com/"
		return s
	}
	for _, tc := range []struct {
		name string
		edit func(*Settings)
		want string
	}{
		{"a scheme in the host", func(s *Settings) { s.Host = "smtp://smtp.example.com" }, "host"},
		{"a port in the host", func(s *Settings) { s.Host = "smtp.example.com:587" }, "host"},
		{"bad port", func(s *Settings) { s.Port = 0 }, "port"},
		{"bad security", func(s *Settings) { s.Security = "ssl" }, "security"},
		{"from with a name", func(s *Settings) { s.From = "Shop <support@example.com>" }, "from"},
		{"a header in the name", func(s *Settings) { s.FromName = "Shop\r\nBcc: x@y.z" }, "from_name"},
		{"a list in agent_to", func(s *Settings) { s.AgentTo = []string{"a@x.com, b@x.com"} }, "agent_to"},
		{"no base url", func(s *Settings) { s.BaseURL = "" }, "base_url"},
		{"a script base url", func(s *Settings) { s.BaseURL = "javascript:alert(1)" }, "base_url"},
		{"on without a host", func(s *Settings) { s.Host = "" }, "host"},
	} {
		s := ok()
		tc.edit(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %s", tc.name, err, tc.want)
		}
	}
	s := ok()
	if err := s.Validate(); err != nil || s.BaseURL != "https://chat.example.com" {
		t.Fatalf("good settings: %v (base %q)", err, s.BaseURL)
	}
	off := DefaultSettings()
	if err := off.Validate(); err != nil {
		t.Fatalf("the defaults (off): %v", err)
	}
}
