package ai

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Defaults for Settings, each with the reason for its value.
const (
	// DefaultBaseURL is OpenAI's API; OPENAI_BASE_URL overrides it.
	DefaultBaseURL = "https://api.openai.com/v1"
	// DefaultModel is small, fast and cheap: support answers are short.
	DefaultModel = "gpt-4o-mini"
	// DefaultTemperature is low: support answers should be consistent.
	DefaultTemperature = 0.3
	// DefaultMaxAnswerTokens fits a full support answer (~350 words) while
	// capping the cost of one.
	DefaultMaxAnswerTokens = 512
	// DefaultContextTokens bounds the prompt (system, grounding, history):
	// enough for a long conversation's recent turns, small enough for
	// every current model and a predictable cost.
	DefaultContextTokens = 3000
	// DefaultSystemPrompt keeps the bot to the business's own information.
	// It promises nothing the product does not do: passing the chat to a
	// person is the hand-off rule's job (handoffRule), which the relay
	// adds and carries out. It is public: never put secrets in a system
	// prompt.
	DefaultSystemPrompt = "You are the customer-service assistant on this business's website. " +
		"Answer briefly and politely, in the visitor's language, using only the business information you are given. " +
		"Do not make up prices, policies or promises."
	// DefaultAnswersPerVisitorHour caps the AI answers one visitor gets in
	// an hour: far above a person reading answers, far below a script.
	DefaultAnswersPerVisitorHour = 30
	// DefaultAnswersPerConversation caps the AI answers in one conversation
	// within a day (a visitor keeps one conversation for life, so the
	// count forgets after 24 h): a chat that needs more needs a person.
	DefaultAnswersPerConversation = 50
)

// OldDefaultSystemPrompt is the default prompt of earlier versions, which
// promised a take-over the model had no way to make happen. Stored
// settings still holding it word for word get DefaultSystemPrompt.
const OldDefaultSystemPrompt = "You are the customer-service assistant on this business's website. " +
	"Answer briefly and politely, in the visitor's language, using only the business information you are given. " +
	"If you are not sure, or the visitor asks for a person, say that a team member will take over."

// Hand-off modes: how the model asks for a person.
const (
	// HandoffTool offers the transfer_to_human tool (function calling).
	HandoffTool = "tool"
	// HandoffMarker asks the model to write HandoffMarker, for upstreams
	// without tools. The marker is recognised in either mode.
	HandoffMarkerMode = "marker"
)

// Limits enforced by Validate.
const (
	maxModelLen        = 200
	maxSystemPromptLen = 20000
	maxKeyLen          = 1024
	maxAnswerTokens    = 32768
	minContextTokens   = 256
	maxContextTokens   = 1 << 20
	maxAnswersCap      = 10000
)

// Settings is the AI configuration an admin edits at run time. Its JSON
// form is the admin API's view: the key never marshals out; has_key says
// whether a key will be sent to the current base URL, key_host which host
// a stored key is bound to. The store keeps MarshalStored's form instead.
type Settings struct {
	Enabled         bool    `json:"enabled"`
	BaseURL         string  `json:"base_url"`
	Model           string  `json:"model"`
	SystemPrompt    string  `json:"system_prompt"`
	Temperature     float64 `json:"temperature"`
	MaxAnswerTokens int     `json:"max_answer_tokens"`
	ContextTokens   int     `json:"context_tokens"`
	// Handoff is how the model asks for a person: HandoffTool (default)
	// or HandoffMarkerMode.
	Handoff string `json:"handoff"`
	// AnswersPerVisitorHour and AnswersPerConversation cap AI answers
	// (0: no cap), on top of the daily token budget.
	AnswersPerVisitorHour  int `json:"answers_per_visitor_hour"`
	AnswersPerConversation int `json:"answers_per_conversation"`

	// APIKey is write-only: set it through SettingsPatch or NewSecret.
	APIKey Secret `json:"-"`
	// KeyHost is the scheme://host:port the key was entered for. The key
	// is sent only while the base URL points there (see UsableKey).
	KeyHost string `json:"-"`
}

// DefaultSettings returns the built-in defaults: enabled only when a key
// or a base URL is given, since without either there is nothing to call.
func DefaultSettings() Settings {
	return Settings{
		BaseURL:         DefaultBaseURL,
		Model:           DefaultModel,
		SystemPrompt:    DefaultSystemPrompt,
		Temperature:     DefaultTemperature,
		MaxAnswerTokens: DefaultMaxAnswerTokens,
		ContextTokens:   DefaultContextTokens,
		Handoff:         HandoffTool,

		AnswersPerVisitorHour:  DefaultAnswersPerVisitorHour,
		AnswersPerConversation: DefaultAnswersPerConversation,
	}
}

// SettingsFromEnv returns the defaults with OPENAI_API_KEY and
// OPENAI_BASE_URL applied (getenv is os.Getenv in production). The key is
// bound to the base URL's host. It is enabled when either is set.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	s := DefaultSettings()
	if base := strings.TrimSpace(getenv("OPENAI_BASE_URL")); base != "" {
		s.BaseURL = base
		s.Enabled = true
	}
	if key := strings.TrimSpace(getenv("OPENAI_API_KEY")); key != "" {
		s.APIKey = NewSecret(key)
		s.KeyHost = hostKeyOf(s.BaseURL)
		s.Enabled = true
	}
	if err := s.Validate(); err != nil {
		return Settings{}, fmt.Errorf("ai: settings from environment: %w", err)
	}
	return s, nil
}

// Validate checks every field; the error lists all problems and matches
// ErrInvalidSettings. It never mentions the key's value.
func (s Settings) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if _, err := CheckBaseURL(s.BaseURL); err != nil {
		bad("base_url", "%v", err)
	}
	switch {
	case strings.TrimSpace(s.Model) == "":
		bad("model", "required")
	case len(s.Model) > maxModelLen || !printable(s.Model):
		bad("model", "at most %d printable characters", maxModelLen)
	}
	if len(s.SystemPrompt) > maxSystemPromptLen || !utf8.ValidString(s.SystemPrompt) {
		bad("system_prompt", "at most %d bytes of UTF-8", maxSystemPromptLen)
	}
	if math.IsNaN(s.Temperature) || s.Temperature < 0 || s.Temperature > 2 {
		bad("temperature", "between 0 and 2")
	}
	if s.MaxAnswerTokens < 1 || s.MaxAnswerTokens > maxAnswerTokens {
		bad("max_answer_tokens", "between 1 and %d", maxAnswerTokens)
	}
	if s.Handoff != HandoffTool && s.Handoff != HandoffMarkerMode {
		bad("handoff", "%q or %q", HandoffTool, HandoffMarkerMode)
	}
	if s.AnswersPerVisitorHour < 0 || s.AnswersPerVisitorHour > maxAnswersCap {
		bad("answers_per_visitor_hour", "between 0 (no cap) and %d", maxAnswersCap)
	}
	if s.AnswersPerConversation < 0 || s.AnswersPerConversation > maxAnswersCap {
		bad("answers_per_conversation", "between 0 (no cap) and %d", maxAnswersCap)
	}
	if s.ContextTokens < minContextTokens || s.ContextTokens > maxContextTokens {
		bad("context_tokens", "between %d and %d", minContextTokens, maxContextTokens)
	}
	if k := s.APIKey.Reveal(); len(k) > maxKeyLen || strings.ContainsFunc(k, func(r rune) bool {
		return r <= ' ' || r == 0x7f || r > unicode.MaxASCII
	}) {
		bad("api_key", "at most %d printable ASCII characters without spaces", maxKeyLen)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidSettings, errors.Join(errs...))
}

func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) })
}

// UsableKey returns the key if it may be sent to the current base URL:
// its host must be the one the key was entered for. Otherwise "" and
// whether a key for another host is being withheld.
func (s Settings) UsableKey() (key string, withheld bool) {
	if s.APIKey.IsZero() {
		return "", false
	}
	if s.KeyHost == "" || s.KeyHost != hostKeyOf(s.BaseURL) {
		return "", true
	}
	return s.APIKey.Reveal(), false
}

// HasKey reports whether a key will be sent to the current base URL.
func (s Settings) HasKey() bool {
	k, _ := s.UsableKey()
	return k != ""
}

// settingsView is the admin API's JSON form.
type settingsView struct {
	Enabled         bool    `json:"enabled"`
	BaseURL         string  `json:"base_url"`
	Model           string  `json:"model"`
	SystemPrompt    string  `json:"system_prompt"`
	Temperature     float64 `json:"temperature"`
	MaxAnswerTokens int     `json:"max_answer_tokens"`
	ContextTokens   int     `json:"context_tokens"`
	Handoff         string  `json:"handoff"`
	PerVisitorHour  int     `json:"answers_per_visitor_hour"`
	PerConversation int     `json:"answers_per_conversation"`
	HasKey          bool    `json:"has_key"`
	KeyHost         string  `json:"key_host,omitempty"`
}

// MarshalJSON writes the admin view: no key, plus has_key and key_host.
func (s Settings) MarshalJSON() ([]byte, error) {
	v := settingsView{
		Enabled: s.Enabled, BaseURL: s.BaseURL, Model: s.Model, SystemPrompt: s.SystemPrompt,
		Temperature: s.Temperature, MaxAnswerTokens: s.MaxAnswerTokens, ContextTokens: s.ContextTokens,
		Handoff: s.Handoff, PerVisitorHour: s.AnswersPerVisitorHour, PerConversation: s.AnswersPerConversation,
		HasKey: s.HasKey(),
	}
	if !s.APIKey.IsZero() {
		v.KeyHost = s.KeyHost
	}
	return json.Marshal(v)
}

// Hash identifies everything that shapes an answer (not the key), for the
// answer cache: change the prompt or the model and old answers stop matching.
func (s Settings) Hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%q\x00%g\x00%d\x00%d\x00%s", strings.TrimRight(strings.TrimSpace(s.BaseURL), "/"), s.Model, s.SystemPrompt,
		s.Temperature, s.MaxAnswerTokens, s.ContextTokens, s.Handoff)
	return hex.EncodeToString(h.Sum(nil)[:12])
}
