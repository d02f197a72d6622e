package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"time"

	"github.com/kefuhq/kefu/relay/internal/egress"
)

// sendTimeout bounds one whole SMTP conversation: a slow server delays
// its mail, never the relay.
const sendTimeout = 60 * time.Second

// SendError is a failed delivery: Permanent when the server refused for
// good (a 5xx: a bad password, an unknown recipient), so retrying the
// same mail cannot help; otherwise it is tried again later.
type SendError struct {
	Permanent bool
	Auth      bool // the server refused the login
	Err       error
}

func (e *SendError) Error() string { return e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// classify wraps err from step with what it means.
func classify(step string, err error) error {
	var tp *textproto.Error
	se := &SendError{Err: fmt.Errorf("%s: %w", step, err)}
	if errors.As(err, &tp) {
		se.Permanent = tp.Code >= 500
		if step == "login" && (tp.Code == 535 || tp.Code == 534 || tp.Code == 530) {
			se.Auth = true
			se.Err = fmt.Errorf("the SMTP server refused the user name or password (%d %s)", tp.Code, tp.Msg)
		}
	}
	if errors.Is(err, egress.ErrRefused) {
		se.Permanent = true
		se.Err = fmt.Errorf("%s: %w (set --allow-private-destinations for a server on your network)", step, err)
	}
	return se
}

// envelope is one message to send.
type envelope struct {
	From string
	To   []string
	Data []byte
}

// send delivers env through the server in s, authenticating with
// password when s has a username. The connection obeys policy (no cloud
// metadata or link-local addresses; private ones only when allowed).
func send(ctx context.Context, s Settings, password string, policy egress.Policy, env envelope) error {
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	d := &net.Dialer{Timeout: 15 * time.Second, Control: policy.Control}
	var conn net.Conn
	var err error
	if s.Security == TLS {
		conn, err = (&tls.Dialer{NetDialer: d, Config: &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return classify("connect to "+addr, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	// The context's end also ends a conversation stuck in a read.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		return classify("greeting", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return classify("hello", err)
	}
	if s.Security == StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return &SendError{Permanent: true, Err: errors.New("the SMTP server does not offer STARTTLS; choose TLS (port 465), or none for a server on your network")}
		}
		if err := c.StartTLS(&tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}); err != nil {
			return classify("starttls", err)
		}
	}
	if s.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return &SendError{Permanent: true, Err: errors.New("the SMTP server offers no login (AUTH); leave the user name empty, or check the port and security")}
		}
		// PlainAuth sends the password only over TLS or to this host.
		if err := c.Auth(smtp.PlainAuth("", s.Username, password, s.Host)); err != nil {
			return classify("login", err)
		}
	}
	if err := c.Mail(env.From); err != nil {
		return classify("sender "+env.From, err)
	}
	for _, to := range env.To {
		if err := c.Rcpt(to); err != nil {
			return classify("recipient "+to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return classify("data", err)
	}
	if _, err := w.Write(env.Data); err != nil {
		return classify("data", err)
	}
	if err := w.Close(); err != nil {
		return classify("data", err)
	}
	if err := c.Quit(); err != nil {
		// Accepted already (the reply to the data's end): a failed QUIT
		// loses nothing.
		return nil
	}
	return nil
}
