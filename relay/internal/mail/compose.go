package mail

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"

	"github.com/kefuhq/kefu/relay/internal/i18n"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// line is one message as a mail shows it.
type line struct {
	Who  string
	Text string
}

// body is what the templates fill in; every value is text, escaped by
// html/template in the HTML part.
type body struct {
	Lang, Dir   string
	Intro       string
	Lines       []line
	LinkText    string
	Link        string
	Why         string
	Unsubscribe string
	UnsubText   string
}

var htmlPart = template.Must(template.New("mail").Parse(`<!doctype html>
<html lang="{{.Lang}}" dir="{{.Dir}}"><head><meta charset="utf-8"></head>
<body style="font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#111827;line-height:1.5">
<p>{{.Intro}}</p>
{{range .Lines}}<div style="margin:0 0 12px"><div style="font-size:12px;color:#6b7280">{{.Who}}</div><div style="white-space:pre-wrap;padding:8px 12px;background:#f3f4f6;border-radius:10px">{{.Text}}</div></div>
{{end}}{{if .Link}}<p><a href="{{.Link}}" style="display:inline-block;padding:8px 16px;background:#2563eb;color:#fff;border-radius:8px;text-decoration:none">{{.LinkText}}</a></p>
{{end}}{{if .Why}}<p style="font-size:12px;color:#6b7280">{{.Why}}{{if .Unsubscribe}} <a href="{{.Unsubscribe}}" style="color:#6b7280">{{.UnsubText}}</a>{{end}}</p>{{end}}
</body></html>
`))

// render makes the text and HTML parts of b.
func render(b body) (text, html string) {
	var t strings.Builder
	t.WriteString(b.Intro + "\n\n")
	for _, l := range b.Lines {
		t.WriteString(l.Who + ":\n" + l.Text + "\n\n")
	}
	if b.Link != "" {
		t.WriteString(b.LinkText + ": " + b.Link + "\n\n")
	}
	if b.Why != "" {
		t.WriteString("-- \n" + b.Why + "\n")
		if b.Unsubscribe != "" {
			t.WriteString(b.UnsubText + ": " + b.Unsubscribe + "\n")
		}
	}
	var h bytes.Buffer
	if err := htmlPart.Execute(&h, b); err != nil {
		// The template is fixed and every value a string: cannot fail.
		panic(err)
	}
	return t.String(), h.String()
}

// who names a message's author for a mail in lang.
func who(m store.Message, lang string, forVisitor bool) string {
	cat := i18n.Builtin()
	switch m.From {
	case protocol.FromVisitor:
		if forVisitor {
			return cat.Relay(lang, "mailYou")
		}
		return "Visitor"
	case protocol.FromAgent:
		if m.Author != "" {
			return m.Author
		}
		return cat.Relay(lang, "someone")
	case protocol.FromSystem:
		return "—"
	}
	if m.Author != "" {
		return m.Author
	}
	return "Bot"
}

// agentMail is the team's notification about conv: a new conversation
// waiting, or visitor replies nobody has open.
func agentMail(s Settings, conv store.Conversation, v store.Visitor, msgs []store.Message, isNew bool) (subject string, b body) {
	visitor := "A visitor"
	if v.Contact != nil {
		visitor = v.Contact.Email
		if v.Contact.Name != "" {
			visitor = v.Contact.Name + " (" + v.Contact.Email + ")"
		}
	}
	var lines []line
	n := 0
	for _, m := range msgs {
		if m.From == protocol.FromVisitor {
			n++
		}
		lines = append(lines, line{Who: who(m, "en", false), Text: m.Text})
	}
	if isNew {
		subject = "New conversation waiting: " + clip(firstVisitorText(msgs), 60)
		b.Intro = visitor + " is waiting for a person, and nobody is online in the console."
	} else {
		subject = fmt.Sprintf("%d new message%s from %s", n, plural(n), visitor)
		b.Intro = visitor + " wrote in a conversation nobody has open."
	}
	b.Lang, b.Dir, b.Lines = "en", "ltr", lines
	b.LinkText, b.Link = "Open it in the console", s.BaseURL+"/console/#c="+conv.ID
	b.Why = "You get this because your address is in the Kefu admin page (Email: team notifications)."
	return subject, b
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func firstVisitorText(msgs []store.Message) string {
	for _, m := range msgs {
		if m.From == protocol.FromVisitor {
			return m.Text
		}
	}
	return "(no text)"
}

// clip shortens s to n runes on one line, for a subject.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// visitorMail is the agent's reply, or the whole conversation
// (transcript), for the visitor, in their language.
func visitorMail(s Settings, v store.Visitor, msgs []store.Message, transcript bool, unsubscribe string) (subject string, b body) {
	lang := v.Lang
	cat := i18n.Builtin()
	if !cat.Has(lang) {
		lang = i18n.Fallback
	}
	team := s.team()
	b.Lang, b.Dir = lang, cat.Catalogue(lang).Dir
	for _, m := range msgs {
		if m.From == protocol.FromSystem || (!transcript && m.From != protocol.FromAgent) {
			continue
		}
		b.Lines = append(b.Lines, line{Who: who(m, lang, true), Text: m.Text})
	}
	if transcript {
		subject = cat.Relay(lang, "mailTranscriptSubject", "team", team)
		b.Intro = cat.Relay(lang, "mailTranscriptIntro", "team", team)
	} else {
		subject = cat.Relay(lang, "mailReplySubject", "team", team)
		b.Intro = cat.Relay(lang, "mailReplyIntro", "team", team)
	}
	if v.Contact != nil && v.Contact.Page != "" {
		b.LinkText, b.Link = cat.Relay(lang, "mailOpenChat"), v.Contact.Page+"#kefu-open"
	}
	b.Why = cat.Relay(lang, "mailWhy")
	b.Unsubscribe, b.UnsubText = unsubscribe, cat.Relay(lang, "mailUnsubscribe")
	return subject, b
}
