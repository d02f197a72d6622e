package protocol

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Validate checks the field values of a decoded client frame (Decode calls
// it; the HTTP API calls it on the same structs).
func Validate(v any) error {
	switch f := v.(type) {
	case *Hello:
		if len(f.Token) > MaxTokenLen || !printableASCII(f.Token) {
			return Errorf(CodeBadField, `field "token" is not a token this relay issues`)
		}
		if len(f.ConversationID) > MaxIDLen || !printableASCII(f.ConversationID) {
			return Errorf(CodeBadField, `field "conversation_id" is malformed`)
		}
		if len(f.Fingerprint) > MaxFingerprintLen || !isHex(f.Fingerprint) {
			return Errorf(CodeBadField, `field "fingerprint" must be at most 64 hex digits`)
		}
		if len(f.Lang) > MaxLangLen || !langTag(f.Lang) {
			return Errorf(CodeBadField, `field "lang" must be a language tag such as "de" or "pt-BR"`)
		}
		if len(f.Locale) > MaxLangLen || !langTag(f.Locale) {
			return Errorf(CodeBadField, `field "locale" must be a language tag such as "de" or "pt-BR"`)
		}
		if !timeZone(f.TZ) {
			return Errorf(CodeBadField, `field "tz" must be an IANA time zone such as "Europe/Berlin" (at most 64 characters)`)
		}
		if err := checkURL("referrer", f.Referrer); err != nil {
			return err
		}
	case *StartBody:
		return Validate(&Hello{Type: TypeHello, ConversationID: f.ConversationID, LastSeq: f.LastSeq, Fingerprint: f.Fingerprint, Lang: f.Lang, Locale: f.Locale, TZ: f.TZ, Referrer: f.Referrer})
	case *PostBody:
		if err := Validate(&Send{Type: TypeMessage, ID: f.ID, Text: f.Text, Intent: f.Intent, PageURL: f.PageURL, PageTitle: f.PageTitle}); err != nil {
			return err
		}
		return Validate(&Hello{Type: TypeHello, Fingerprint: f.Fingerprint})
	case *Send:
		if err := checkIDText(f.ID, f.Text); err != nil {
			return err
		}
		if len(f.Intent) > MaxIDLen*2 {
			return Errorf(CodeBadField, `field "intent" is too long`)
		}
		if err := checkURL("page_url", f.PageURL); err != nil {
			return err
		}
		if len(f.PageTitle) > MaxTitleLen {
			return Errorf(CodeBadField, fmt.Sprintf(`field "page_title" is longer than %d bytes`, MaxTitleLen))
		}
	case *Identify:
		if len(f.Traits) > MaxTraits {
			return Errorf(CodeBadField, fmt.Sprintf(`field "traits" has more than %d entries`, MaxTraits))
		}
		for k, v := range f.Traits {
			if !traitKey(k) {
				return Errorf(CodeBadField, fmt.Sprintf("trait name %q must be 1 to 32 of a-z, 0-9, _", clip(k)))
			}
			if len(v) > MaxTraitValueLen {
				return Errorf(CodeBadField, fmt.Sprintf("trait %q is longer than %d bytes", k, MaxTraitValueLen))
			}
		}
	case *Fingerprint:
		if len(f.Fingerprint) != MaxFingerprintLen || !isHex(f.Fingerprint) {
			return Errorf(CodeBadField, `field "fingerprint" must be 64 hex digits`)
		}
	case *AgentSend:
		if err := checkConv(f.ConversationID); err != nil {
			return err
		}
		return checkIDText(f.ID, f.Text)
	case *AgentNote:
		if err := checkConv(f.ConversationID); err != nil {
			return err
		}
		return checkIDText(f.ID, f.Text)
	case *Watch:
		return checkConv(f.ConversationID)
	case *ConvRef:
		return checkConv(f.ConversationID)
	case *AgentTyping:
		return checkConv(f.ConversationID)
	case *Transfer:
		if err := checkConv(f.ConversationID); err != nil {
			return err
		}
		if f.To == "" || len(f.To) > MaxIDLen || !printableASCII(f.To) {
			return Errorf(CodeBadField, `field "to" must be an agent id or "queue"`)
		}
	case *AgentHello:
		if f.Status != "" && f.Status != StatusOnline && f.Status != StatusAway {
			return Errorf(CodeBadField, `field "status" must be "online" or "away"`)
		}
		if len(f.Positions) > MaxPositions {
			return Errorf(CodeBadField, fmt.Sprintf(`field "positions" has more than %d entries`, MaxPositions))
		}
		for id := range f.Positions {
			if err := checkConv(id); err != nil {
				return err
			}
		}
	case *Presence:
		if f.Status != StatusOnline && f.Status != StatusAway {
			return Errorf(CodeBadField, `field "status" must be "online" or "away"`)
		}
	}
	return nil
}

func traitKey(k string) bool {
	if k == "" || len(k) > MaxTraitKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func checkIDText(id, text string) error {
	if id == "" || len(id) > MaxIDLen || !printableASCII(id) {
		return Errorf(CodeBadField, `field "id" must be 1 to 64 printable ASCII characters`)
	}
	if strings.TrimSpace(text) == "" {
		return Errorf(CodeBadField, `field "text" must not be empty`)
	}
	return nil
}

func checkConv(id string) error {
	if id == "" || len(id) > MaxIDLen || !printableASCII(id) {
		return Errorf(CodeBadField, `field "conversation_id" is malformed`)
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// clip keeps echoed client text short in error messages.
func clip(s string) string {
	if len(s) <= 40 {
		return s
	}
	for i := 40; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}

// langTag accepts "" and language tags: letters, digits and hyphens, each
// part 1 to 8 characters, the first letters only.
func langTag(s string) bool {
	for i, part := range strings.Split(s, "-") {
		if s == "" {
			return true
		}
		if part == "" || len(part) > 8 {
			return false
		}
		for _, r := range part {
			letter := (r|0x20) >= 'a' && (r|0x20) <= 'z'
			if !letter && (i == 0 || r < '0' || r > '9') {
				return false
			}
		}
	}
	return true
}

// checkURL accepts "" and absolute http or https addresses of at most
// MaxURLLen bytes: what a page's location or referrer is. Anything else
// (javascript:, data:, a relative path) is refused, never stored.
func checkURL(field, s string) error {
	if s == "" {
		return nil
	}
	if len(s) > MaxURLLen {
		return Errorf(CodeBadField, fmt.Sprintf("field %q is longer than %d bytes", field, MaxURLLen))
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !printableASCII(u.Host) {
		return Errorf(CodeBadField, fmt.Sprintf("field %q must be an http or https address", field))
	}
	return nil
}

// timeZone accepts "" and names shaped like IANA zones ("Europe/Berlin",
// "America/Argentina/Buenos_Aires", "Etc/GMT+3", "UTC"). The relay does
// not load zone data: the console's browser resolves the name.
func timeZone(s string) bool {
	if s == "" {
		return true
	}
	if len(s) > MaxTZLen {
		return false
	}
	for _, part := range strings.Split(s, "/") {
		if part == "" {
			return false
		}
		for j := 0; j < len(part); j++ {
			c := part[j]
			letter := (c|0x20) >= 'a' && (c|0x20) <= 'z'
			if !letter && (j == 0 || !('0' <= c && c <= '9' || c == '_' || c == '-' || c == '+')) {
				return false
			}
		}
	}
	return true
}
