package ai

import (
	"fmt"
	"strings"
)

// SettingsPatch is an admin's change to Settings: nil fields stay as they
// are. It is the only JSON form that carries a key, and only inwards.
type SettingsPatch struct {
	Enabled         *bool    `json:"enabled,omitempty"`
	BaseURL         *string  `json:"base_url,omitempty"`
	Model           *string  `json:"model,omitempty"`
	SystemPrompt    *string  `json:"system_prompt,omitempty"`
	Temperature     *float64 `json:"temperature,omitempty"`
	MaxAnswerTokens *int     `json:"max_answer_tokens,omitempty"`
	ContextTokens   *int     `json:"context_tokens,omitempty"`
	Handoff         *string  `json:"handoff,omitempty"`
	PerVisitorHour  *int     `json:"answers_per_visitor_hour,omitempty"`
	PerConversation *int     `json:"answers_per_conversation,omitempty"`
	// APIKey sets the key and binds it to the (new) base URL's host; an
	// empty string removes the key.
	APIKey *string `json:"api_key,omitempty"`
}

// String keeps the key out of a printed patch.
func (p SettingsPatch) String() string {
	key := "unchanged"
	if p.APIKey != nil {
		key = "set"
		if *p.APIKey == "" {
			key = "removed"
		}
	}
	return fmt.Sprintf("SettingsPatch{api_key: %s, ...}", key)
}

// GoString is String, so %#v does not print the key either.
func (p SettingsPatch) GoString() string { return p.String() }

// Apply returns s with the patch applied and validated; s is unchanged.
// A key given in the patch is bound to the base URL's host after the patch.
// If the base URL moves to another host without a new key, the old key
// stays stored but is not sent (UsableKey) until it is re-entered, or
// until the base URL points back to the host it was entered for.
func (s Settings) Apply(p SettingsPatch) (Settings, error) {
	n := s
	if p.Enabled != nil {
		n.Enabled = *p.Enabled
	}
	if p.BaseURL != nil {
		n.BaseURL = strings.TrimSpace(*p.BaseURL)
	}
	if p.Model != nil {
		n.Model = strings.TrimSpace(*p.Model)
	}
	if p.SystemPrompt != nil {
		n.SystemPrompt = *p.SystemPrompt
	}
	if p.Temperature != nil {
		n.Temperature = *p.Temperature
	}
	if p.MaxAnswerTokens != nil {
		n.MaxAnswerTokens = *p.MaxAnswerTokens
	}
	if p.ContextTokens != nil {
		n.ContextTokens = *p.ContextTokens
	}
	if p.Handoff != nil {
		n.Handoff = strings.TrimSpace(*p.Handoff)
	}
	if p.PerVisitorHour != nil {
		n.AnswersPerVisitorHour = *p.PerVisitorHour
	}
	if p.PerConversation != nil {
		n.AnswersPerConversation = *p.PerConversation
	}
	if p.APIKey != nil {
		key := strings.TrimSpace(*p.APIKey)
		n.APIKey = NewSecret(key)
		n.KeyHost = ""
		if key != "" {
			n.KeyHost = hostKeyOf(n.BaseURL)
		}
	}
	if err := n.Validate(); err != nil {
		return s, fmt.Errorf("ai: apply settings: %w", err)
	}
	return n, nil
}
