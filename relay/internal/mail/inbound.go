package mail

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Bounds of an inbound mail.
const (
	maxInbound     = 1 << 20 // the raw message
	maxInboundText = 4000    // runes kept of the reply
	keyInbound     = "inbound"
)

// threadRE finds the conversation a reply answers in In-Reply-To or
// References: every mail about a conversation names it so.
var threadRE = regexp.MustCompile(`<conversation\.([a-z2-7]{16})@[^>\s]+>`)

// quoteStarts are lines where mail clients begin the quoted original.
var quoteStarts = []*regexp.Regexp{
	regexp.MustCompile(`^On\s.+\bwrote:\s*$`),                   // Gmail, Apple Mail
	regexp.MustCompile(`^Am\s.+\bschrieb\b.*:\s*$`),             // German
	regexp.MustCompile(`^Le\s.+\ba écrit\s*:\s*$`),              // French
	regexp.MustCompile(`^El\s.+\bescribió:\s*$`),                // Spanish
	regexp.MustCompile(`^Em\s.+\bescreveu:\s*$`),                // Portuguese
	regexp.MustCompile(`^在.+写道[:：]\s*$`),                        // Chinese
	regexp.MustCompile(`^-{2,}\s*Original Message\s*-{2,}\s*$`), // Outlook
	regexp.MustCompile(`^_{10,}\s*$`),                           // Outlook's rule
	regexp.MustCompile(`^From:\s.+`),                            // a forwarded header block
}

// StripQuoted keeps what the person wrote above the quoted original and
// their signature.
func StripQuoted(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var keep []string
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, ">") || t == "--" && strings.HasPrefix(l, "-- ") || l == "-- " {
			break
		}
		quoted := false
		for _, re := range quoteStarts {
			if re.MatchString(t) {
				quoted = true
				break
			}
		}
		if quoted {
			break
		}
		keep = append(keep, l)
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}

// Inbound is a reply read from a raw mail.
type Inbound struct {
	Conversation string
	From         string
	MessageID    string
	Text         string
}

// errInbound is an inbound mail the relay cannot take; its text says why.
type errInbound string

func (e errInbound) Error() string { return string(e) }

// ParseInbound reads a raw RFC 5322 message: the conversation it answers
// (In-Reply-To, then References), its sender and the text written above
// the quote (the text/plain part; quoted-printable or base64).
func ParseInbound(raw []byte) (Inbound, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Inbound{}, errInbound("not a mail message: " + err.Error())
	}
	var in Inbound
	for _, h := range []string{"In-Reply-To", "References"} {
		if m := threadRE.FindStringSubmatch(msg.Header.Get(h)); m != nil {
			in.Conversation = m[1]
			break
		}
	}
	if in.Conversation == "" {
		return in, errInbound("the mail answers no conversation (no <conversation.…> in In-Reply-To or References)")
	}
	from, err := mail.ParseAddress(msg.Header.Get("From"))
	if err != nil {
		return in, errInbound("no sender address in From")
	}
	in.From = strings.ToLower(from.Address)
	in.MessageID = strings.TrimSpace(msg.Header.Get("Message-ID"))
	text, err := textPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0)
	if err != nil {
		return in, err
	}
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	in.Text = StripQuoted(text)
	if in.Text == "" {
		return in, errInbound("the reply is empty once the quoted mail is cut")
	}
	if r := []rune(in.Text); len(r) > maxInboundText {
		in.Text = string(r[:maxInboundText])
	}
	return in, nil
}

// textPart finds the first text/plain part, decoded.
func textPart(ctype, cte string, body io.Reader, depth int) (string, error) {
	if depth > 5 {
		return "", errInbound("the mail nests its parts too deep")
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if ctype == "" {
		mt, err = "text/plain", nil
	}
	if err != nil {
		return "", errInbound("unreadable Content-Type: " + err.Error())
	}
	switch {
	case mt == "text/plain":
		return decodeBody(cte, body)
	case strings.HasPrefix(mt, "multipart/"):
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return "", errInbound("unreadable multipart body: " + err.Error())
			}
			t, err := textPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1)
			if err == nil {
				return t, nil
			}
		}
	}
	return "", errInbound("the mail has no plain-text part")
}

func decodeBody(cte string, body io.Reader) (string, error) {
	var r io.Reader = body
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, newlineDropper{body})
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInbound))
	if err != nil {
		return "", errInbound("unreadable body: " + err.Error())
	}
	return string(b), nil
}

// newlineDropper drops line breaks from base64 text.
type newlineDropper struct{ r io.Reader }

func (d newlineDropper) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' {
			p[j] = c
			j++
		}
	}
	return j, err
}

// inbound is POST /v1/mail/inbound/{key}: a raw mail from the shop's mail
// server (a pipe, or a provider's raw-message webhook). A reply from the
// address the visitor left goes into their conversation, once per
// Message-ID.
func (s *Service) inbound(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(r.PathValue("key")), s.inboundKey) != 1 {
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "")
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInbound))
	if err != nil {
		httpx.Error(w, http.StatusRequestEntityTooLarge, protocol.CodeBadField, "the mail is larger than 1 MiB")
		return
	}
	in, err := ParseInbound(raw)
	var bad errInbound
	if errors.As(err, &bad) {
		httpx.Error(w, http.StatusUnprocessableEntity, protocol.CodeBadField, bad.Error())
		return
	}
	conv, err := s.st.Conversation(in.Conversation)
	if errors.Is(err, store.ErrNotFound) {
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "no such conversation (erased?)")
		return
	}
	if err != nil {
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "")
		return
	}
	v, err := s.st.Visitor(conv.VisitorID)
	if err != nil || v.Contact == nil || !strings.EqualFold(v.Contact.Email, in.From) {
		// Only the address the visitor left may write as them.
		httpx.Error(w, http.StatusForbidden, protocol.CodeForbidden, "the sender is not the address this conversation's visitor left")
		return
	}
	id := in.MessageID
	if id == "" {
		id = string(raw)
	}
	sum := sha256.Sum256([]byte(id))
	a, err := s.st.Append(r.Context(), conv.ID, store.NewMessage{
		ClientID: "mail-" + hex.EncodeToString(sum[:12]), From: protocol.FromVisitor, Text: in.Text, Via: "email",
	})
	if err != nil {
		s.opts.Log.Error("mail: store an emailed reply", "conversation", conv.ID, "err", err)
		httpx.Error(w, http.StatusServiceUnavailable, protocol.CodeStorage, "")
		return
	}
	s.opts.Log.Info("mail: a visitor replied by email", "conversation", conv.ID, "duplicate", a.Duplicate[0])
	httpx.JSON(w, http.StatusOK, map[string]any{"conversation_id": conv.ID, "seq": a.Messages[0].Seq, "duplicate": a.Duplicate[0]})
}
