package ai

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Sealer seals the API key for the store and opens it again: package
// secret's *Key. The database never holds the key in clear.
type Sealer interface {
	Seal(name string, plain []byte) (string, error)
	Open(name, sealed string) ([]byte, error)
}

// storedKeyName is the sealed key's field name, bound into the sealing so
// the value cannot be moved into another field.
const storedKeyName = "ai.api_key"

// ErrKeyUnreadable: the stored key could not be opened (no key, another
// key, a damaged value). The wrapped error says which key ids.
var ErrKeyUnreadable = errors.New("the stored AI key cannot be opened")

// storedSettings is the store's form: the view's fields plus the key,
// sealed.
type storedSettings struct {
	Enabled         bool    `json:"enabled"`
	BaseURL         string  `json:"base_url"`
	Model           string  `json:"model"`
	SystemPrompt    string  `json:"system_prompt"`
	Temperature     float64 `json:"temperature"`
	MaxAnswerTokens int     `json:"max_answer_tokens"`
	ContextTokens   int     `json:"context_tokens"`
	Handoff         string  `json:"handoff,omitempty"`
	PerVisitorHour  *int    `json:"answers_per_visitor_hour,omitempty"`
	PerConversation *int    `json:"answers_per_conversation,omitempty"`
	APIKeySealed    string  `json:"api_key_sealed,omitempty"`
	// APIKey is the key in clear, as stored before keys were sealed: read,
	// never written.
	APIKey  string `json:"api_key,omitempty"`
	KeyHost string `json:"key_host,omitempty"`
}

// MarshalStored returns the form to persist, the key sealed with sl. It is
// for the store only.
func (s Settings) MarshalStored(sl Sealer) ([]byte, error) {
	st := storedSettings{
		Enabled: s.Enabled, BaseURL: s.BaseURL, Model: s.Model, SystemPrompt: s.SystemPrompt,
		Temperature: s.Temperature, MaxAnswerTokens: s.MaxAnswerTokens, ContextTokens: s.ContextTokens,
		Handoff: s.Handoff, PerVisitorHour: &s.AnswersPerVisitorHour, PerConversation: &s.AnswersPerConversation,
		KeyHost: s.KeyHost,
	}
	if !s.APIKey.IsZero() {
		if sl == nil {
			return nil, errors.New("ai: store settings: no secret key to seal the API key with")
		}
		sealed, err := sl.Seal(storedKeyName, []byte(s.APIKey.Reveal()))
		if err != nil {
			return nil, fmt.Errorf("ai: store settings: %w", err)
		}
		st.APIKeySealed = sealed
	}
	return json.Marshal(st)
}

// UnmarshalStored reads MarshalStored's form, opening the key with sl.
// Fields missing from older records keep their defaults; the result is
// validated. inClear reports a key stored in clear (before keys were
// sealed), for the caller to seal. A key that sl cannot open is an error
// matching ErrKeyUnreadable; the settings without the key come back with
// it, for a caller told to forget such keys.
func UnmarshalStored(b []byte, sl Sealer) (s Settings, inClear bool, err error) {
	d := DefaultSettings()
	st := storedSettings{
		BaseURL: d.BaseURL, Model: d.Model, SystemPrompt: d.SystemPrompt, Temperature: d.Temperature,
		MaxAnswerTokens: d.MaxAnswerTokens, ContextTokens: d.ContextTokens, Handoff: d.Handoff,
		PerVisitorHour: &d.AnswersPerVisitorHour, PerConversation: &d.AnswersPerConversation,
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return Settings{}, false, fmt.Errorf("ai: read stored settings: %w", err)
	}
	s = Settings{
		Enabled: st.Enabled, BaseURL: st.BaseURL, Model: st.Model, SystemPrompt: st.SystemPrompt,
		Temperature: st.Temperature, MaxAnswerTokens: st.MaxAnswerTokens, ContextTokens: st.ContextTokens,
		Handoff: st.Handoff, KeyHost: st.KeyHost,
	}
	if st.PerVisitorHour != nil {
		s.AnswersPerVisitorHour = *st.PerVisitorHour
	}
	if st.PerConversation != nil {
		s.AnswersPerConversation = *st.PerConversation
	}
	if s.Handoff == "" {
		s.Handoff = HandoffTool
	}
	if s.SystemPrompt == OldDefaultSystemPrompt {
		s.SystemPrompt = DefaultSystemPrompt // it promised what the product did not do
	}
	if err := s.Validate(); err != nil {
		return Settings{}, false, fmt.Errorf("ai: read stored settings: %w", err)
	}
	key := st.APIKey
	if st.APIKeySealed != "" {
		var plain []byte
		if sl != nil {
			plain, err = sl.Open(storedKeyName, st.APIKeySealed)
		}
		if sl == nil || err != nil {
			if err == nil {
				err = errors.New("no secret key configured to open it with")
			}
			s.KeyHost = ""
			return s, false, fmt.Errorf("ai: read stored settings: %w: %w", ErrKeyUnreadable, err)
		}
		key = string(plain)
	}
	s.APIKey = NewSecret(key)
	if err := s.Validate(); err != nil { // the key's own rules
		return Settings{}, false, fmt.Errorf("ai: read stored settings: %w", err)
	}
	return s, st.APIKeySealed == "" && key != "", nil
}
