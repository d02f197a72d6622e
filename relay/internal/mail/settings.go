package mail

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/protocol"
)

// Security of the connection to the SMTP server.
const (
	StartTLS = "starttls" // plain connection upgraded with STARTTLS (port 587); required, never skipped
	TLS      = "tls"      // TLS from the first byte (port 465)
	Plain    = "none"     // no encryption: only for a server on the same host or LAN
)

// Settings are the SMTP server and what mail goes where. The password is
// never part of them: it is kept sealed (Stored) and given to the client
// only when sending.
type Settings struct {
	Enabled  bool   `json:"enabled"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Security string `json:"security"`
	Username string `json:"username"`
	// From is the sender's address; FromName its display name, also the
	// team's name in visitor mails.
	From     string `json:"from"`
	FromName string `json:"from_name"`
	// AgentTo receive the team's notifications: a conversation waiting,
	// and visitor replies nobody has open.
	AgentTo []string `json:"agent_to"`
	// BaseURL is the relay's address as people reach it, for links in
	// mails (the console, unsubscribing).
	BaseURL string `json:"base_url"`
	// BatchSeconds is how long visitor replies are collected into one
	// agent mail.
	BatchSeconds int `json:"batch_seconds"`
	// VisitorDelaySeconds is how long an agent's reply waits before it is
	// mailed to the visitor (who may still be reading the chat).
	VisitorDelaySeconds int `json:"visitor_delay_seconds"`
}

// Bounds and defaults.
const (
	DefaultBatchSeconds        = 120
	DefaultVisitorDelaySeconds = 60
	MaxAgentTo                 = 20
)

// DefaultSettings are in force until an admin saves others: off.
func DefaultSettings() Settings {
	return Settings{Port: 587, Security: StartTLS, AgentTo: []string{}, BatchSeconds: DefaultBatchSeconds, VisitorDelaySeconds: DefaultVisitorDelaySeconds}
}

// ErrNotConfigured: mail is off, or the settings lack what sending needs.
var ErrNotConfigured = errors.New("mail is not set up: turn it on and save the SMTP server first")

func bad(format string, args ...any) error {
	return protocol.Errorf(protocol.CodeBadField, fmt.Sprintf(format, args...))
}

// bareAddress accepts one address without a display name.
func bareAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s && len(s) <= 254 && !strings.ContainsAny(s, "\r\n<>\"")
}

// Validate checks settings before they are stored. Switched off, only
// what is filled in must be well formed.
func (s *Settings) Validate() error {
	s.Host = strings.TrimSpace(s.Host)
	s.From = strings.TrimSpace(s.From)
	s.FromName = strings.TrimSpace(s.FromName)
	s.BaseURL = strings.TrimRight(strings.TrimSpace(s.BaseURL), "/")
	if s.AgentTo == nil {
		s.AgentTo = []string{}
	}
	for i, a := range s.AgentTo {
		s.AgentTo[i] = strings.TrimSpace(a)
	}
	switch {
	case s.Host != "" && (strings.ContainsAny(s.Host, "/:@ \t") && net.ParseIP(s.Host) == nil):
		return bad("host must be a host name or address, without scheme or port (smtp.example.com)")
	case s.Port < 1 || s.Port > 65535:
		return bad("port must be 1 to 65535 (587 for STARTTLS, 465 for TLS)")
	case s.Security != StartTLS && s.Security != TLS && s.Security != Plain:
		return bad("security must be starttls, tls or none")
	case utf8.RuneCountInString(s.Username) > 256 || strings.ContainsAny(s.Username, "\r\n"):
		return bad("username must be one line of at most 256 characters")
	case s.From != "" && !bareAddress(s.From):
		return bad("from must be one address like support@example.com")
	case utf8.RuneCountInString(s.FromName) > 100 || strings.ContainsAny(s.FromName, "\r\n"):
		return bad("from_name must be one line of at most 100 characters")
	case len(s.AgentTo) > MaxAgentTo:
		return bad("at most %d addresses for the team's notifications", MaxAgentTo)
	case s.BatchSeconds < 1 || s.BatchSeconds > 3600:
		return bad("batch_seconds must be 1 to 3600")
	case s.VisitorDelaySeconds < 0 || s.VisitorDelaySeconds > 3600:
		return bad("visitor_delay_seconds must be 0 to 3600")
	}
	for _, a := range s.AgentTo {
		if !bareAddress(a) {
			return bad("agent_to: %q is not one address like ann@example.com", a)
		}
	}
	if s.BaseURL != "" {
		u, err := url.Parse(s.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s.BaseURL) > 500 {
			return bad("base_url must be the relay's http(s) address, like https://chat.example.com")
		}
	}
	if s.Enabled {
		switch {
		case s.Host == "":
			return bad("host is needed to send mail")
		case s.From == "":
			return bad("from is needed to send mail")
		case s.BaseURL == "":
			return bad("base_url is needed for the links in mails")
		}
	}
	return nil
}

// domain is the part of From after the @, for Message-IDs.
func (s Settings) domain() string {
	if i := strings.LastIndexByte(s.From, '@'); i >= 0 {
		return s.From[i+1:]
	}
	return "kefu.invalid"
}

// team is the name visitor mails give the business.
func (s Settings) team() string {
	if s.FromName != "" {
		return s.FromName
	}
	return s.domain()
}
