package mail

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// maxMailMessages bounds the messages one mail shows (the newest).
const maxMailMessages = 200

// sendJob composes and sends one outbox entry. false with no error: there
// is nothing to send any more (the visitor came back and read it, they
// unsubscribed, the conversation was erased).
func (s *Service) sendJob(ctx context.Context, set Settings, password, key string, j job) (bool, error) {
	conv, err := s.st.Conversation(j.Conv)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	v, err := s.st.Visitor(conv.VisitorID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	from := j.From
	if j.To >= maxMailMessages && from < j.To-maxMailMessages+1 {
		from = j.To - maxMailMessages + 1
	}
	msgs, err := s.st.Messages(conv.ID, from-1, int(j.To-from+1))
	if err != nil {
		return false, err
	}
	m := Message{From: set.From, FromName: set.FromName, Date: s.opts.Now(),
		MessageID: key + "." + strconv.Itoa(j.Attempts) + "@" + set.domain(), InReplyTo: "conversation." + conv.ID + "@" + set.domain()}
	var b body
	switch j.Kind {
	case jobAgent:
		m.To = set.AgentTo
		if len(m.To) == 0 {
			return false, nil
		}
		m.Subject, b = agentMail(set, conv, v, msgs, j.New)
	case jobVisitor, jobTranscript:
		if v.Contact == nil || v.Contact.Unsubscribed || v.Contact.Email == "" {
			return false, nil
		}
		if j.Kind == jobVisitor && s.opts.Presence.VisitorHere(conv.ID) {
			s.opts.Log.Info("mail: the visitor is back in the chat; their reply is not mailed", "conversation", conv.ID)
			return false, nil
		}
		m.To = []string{v.Contact.Email}
		m.Unsubscribe = s.unsubscribeURL(set.BaseURL, v.ID)
		m.Subject, b = visitorMail(set, v, msgs, j.Kind == jobTranscript, m.Unsubscribe)
		if len(b.Lines) == 0 {
			return false, nil
		}
	default:
		return false, fmt.Errorf("unknown kind %q", j.Kind)
	}
	m.Text, m.HTML = render(b)
	if err := send(ctx, set, password, s.opts.Egress, envelope{From: set.From, To: m.To, Data: m.Bytes()}); err != nil {
		return false, err
	}
	return true, nil
}

// SendTest sends a short mail to to with the saved settings, at once: the
// admin's "send test mail". Its error says what went wrong.
func (s *Service) SendTest(ctx context.Context, to string) error {
	set, password, err := s.config()
	if err != nil {
		return err
	}
	if !bareAddress(to) {
		return bad("to must be one address like ann@example.com")
	}
	m := Message{From: set.From, FromName: set.FromName, To: []string{to}, Date: s.opts.Now(),
		Subject: "Kefu test mail", MessageID: "test." + randomHex(8) + "@" + set.domain()}
	m.Text, m.HTML = render(body{Lang: "en", Dir: "ltr", Intro: "This is a test mail from Kefu: the SMTP settings work."})
	err = send(ctx, set, password, s.opts.Egress, envelope{From: set.From, To: m.To, Data: m.Bytes()})
	if err != nil {
		s.noteErr(err)
		return err
	}
	s.noteSent()
	return nil
}
