package ai

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/secret"
)

func TestSettingsValidate(t *testing.T) {
	ok := DefaultSettings()
	tests := []struct {
		name    string
		mod     func(*Settings)
		wantErr string // substring; "" means valid
	}{
		{name: "defaults", mod: func(*Settings) {}},
		{name: "loopback base URL", mod: func(s *Settings) { s.BaseURL = "http://127.0.0.1:11434/v1" }},
		{name: "private base URL", mod: func(s *Settings) { s.BaseURL = "http://10.1.2.3/v1" }},
		{name: "file scheme", mod: func(s *Settings) { s.BaseURL = "file:///etc/passwd" }, wantErr: "base_url"},
		{name: "metadata IPv4", mod: func(s *Settings) { s.BaseURL = "http://169.254.169.254/latest" }, wantErr: "base_url"},
		{name: "metadata IPv6", mod: func(s *Settings) { s.BaseURL = "http://[fd00:ec2::254]/" }, wantErr: "base_url"},
		{name: "metadata mapped", mod: func(s *Settings) { s.BaseURL = "http://[::ffff:169.254.169.254]/" }, wantErr: "base_url"},
		{name: "metadata name", mod: func(s *Settings) { s.BaseURL = "http://metadata.google.internal./v1" }, wantErr: "base_url"},
		{name: "link-local v6", mod: func(s *Settings) { s.BaseURL = "http://[fe80::1]/" }, wantErr: "base_url"},
		{name: "credentials in URL", mod: func(s *Settings) { s.BaseURL = "https://u:p@api.example.com/v1" }, wantErr: "base_url"},
		{name: "query", mod: func(s *Settings) { s.BaseURL = "https://api.example.com/v1?x=1" }, wantErr: "base_url"},
		{name: "no model", mod: func(s *Settings) { s.Model = " " }, wantErr: "model"},
		{name: "temperature", mod: func(s *Settings) { s.Temperature = 2.5 }, wantErr: "temperature"},
		{name: "max tokens", mod: func(s *Settings) { s.MaxAnswerTokens = 0 }, wantErr: "max_answer_tokens"},
		{name: "context tokens", mod: func(s *Settings) { s.ContextTokens = 10 }, wantErr: "context_tokens"},
		{name: "key with space", mod: func(s *Settings) { s.APIKey = NewSecret("sk-a b") }, wantErr: "api_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.mod(&s)
			err := s.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSettings) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want ErrInvalidSettings about %s", err, tt.wantErr)
			}
		})
	}
}

func TestSettingsNeverShowTheKey(t *testing.T) {
	s := settingsFor(t, "https://api.example.com/v1", testKey)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("settings", "s", s, "key", s.APIKey)
	patch := SettingsPatch{APIKey: new(testKey)}
	outputs := map[string]string{
		"json":        string(b),
		"%v":          fmt.Sprintf("%v", s),
		"%+v":         fmt.Sprintf("%+v", s),
		"%#v":         fmt.Sprintf("%#v", s),
		"%s key":      fmt.Sprintf("%s", s.APIKey),
		"%q key":      fmt.Sprintf("%q", s.APIKey),
		"%x key":      fmt.Sprintf("%x", s.APIKey),
		"slog":        logged.String(),
		"patch %v":    fmt.Sprintf("%v", patch),
		"patch %#v":   fmt.Sprintf("%#v", patch),
		"bad key err": func() string { x := s; x.APIKey = NewSecret(testKey + " \n"); return x.Validate().Error() }(),
		"invalid err": func() string { x := s; x.Temperature = 9; return x.Validate().Error() }(),
	}
	for name, out := range outputs {
		if strings.Contains(out, testKey) || strings.Contains(out, "Zq8vN3kW") {
			t.Errorf("%s shows the key: %s", name, out)
		}
	}
	var view map[string]any
	if err := json.Unmarshal(b, &view); err != nil {
		t.Fatal(err)
	}
	if view["has_key"] != true || view["key_host"] != "https://api.example.com:443" {
		t.Errorf("view: got has_key=%v key_host=%v", view["has_key"], view["key_host"])
	}
}

func TestKeyBoundToHost(t *testing.T) {
	base := settingsFor(t, "https://api.example.com/v1", testKey)
	tests := []struct {
		name    string
		patch   SettingsPatch
		wantKey bool
	}{
		{name: "same host, other path", patch: SettingsPatch{BaseURL: new("https://API.example.com:443/openai/v1")}, wantKey: true},
		{name: "other host", patch: SettingsPatch{BaseURL: new("https://evil.example.net/v1")}, wantKey: false},
		{name: "other port", patch: SettingsPatch{BaseURL: new("https://api.example.com:8443/v1")}, wantKey: false},
		{name: "downgrade to http", patch: SettingsPatch{BaseURL: new("http://api.example.com/v1")}, wantKey: false},
		{name: "other host, key re-entered", patch: SettingsPatch{BaseURL: new("https://other.example.net/v1"), APIKey: new("sk-new-key-123")}, wantKey: true},
		{name: "key removed", patch: SettingsPatch{APIKey: new("")}, wantKey: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := base.Apply(tt.patch)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.HasKey(); got != tt.wantKey {
				t.Errorf("HasKey: got %v, want %v", got, tt.wantKey)
			}
		})
	}
	// Moving away and back makes the stored key usable again: it is its host.
	away, _ := base.Apply(SettingsPatch{BaseURL: new("https://evil.example.net/v1")})
	back, _ := away.Apply(SettingsPatch{BaseURL: new("https://api.example.com/v1")})
	if !back.HasKey() {
		t.Error("key not usable after returning to its own host")
	}
}

func TestSettingsStoredRoundTrip(t *testing.T) {
	key, _ := secret.Generate()
	s := settingsFor(t, "https://api.example.com/v1", testKey)
	s.SystemPrompt = "Be brief."
	b, err := s.MarshalStored(key)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), testKey) || !strings.Contains(string(b), `"api_key_sealed":"kefu-sealed-v1:`) {
		t.Fatalf("stored form %s: want the key sealed", b)
	}
	got, inClear, err := UnmarshalStored(b, key)
	if err != nil || inClear {
		t.Fatal(err, inClear)
	}
	if got.APIKey.Reveal() != testKey || got.KeyHost != s.KeyHost || got.SystemPrompt != s.SystemPrompt || got.Hash() != s.Hash() {
		t.Errorf("round trip: got %+v, want %+v", got, s)
	}
	// Old records without newer fields get the defaults.
	old, _, err := UnmarshalStored([]byte(`{"enabled":true,"base_url":"http://127.0.0.1:1/v1"}`), key)
	if err != nil || old.Model != DefaultModel || old.ContextTokens != DefaultContextTokens {
		t.Errorf("old record: got %+v, %v", old, err)
	}
	// A key stored in clear (before sealing) is read and reported.
	legacy, inClear, err := UnmarshalStored([]byte(`{"enabled":true,"base_url":"https://api.example.com/v1","api_key":"`+testKey+`","key_host":"`+s.KeyHost+`"}`), key)
	if err != nil || !inClear || !legacy.HasKey() || legacy.APIKey.Reveal() != testKey {
		t.Errorf("key in clear: %+v, inClear %v, %v", legacy, inClear, err)
	}
	// Another key, or none, is a clear error; the rest of the settings
	// come back without the key.
	other, _ := secret.Generate()
	var none *secret.Key // as the edge passes it without KEFU_SECRET_KEY
	for name, sl := range map[string]Sealer{"another key": other, "no key": none} {
		got, _, err := UnmarshalStored(b, sl)
		if !errors.Is(err, ErrKeyUnreadable) || got.HasKey() || !got.APIKey.IsZero() || got.SystemPrompt != "Be brief." {
			t.Errorf("%s: %+v, %v", name, got, err)
		}
		if !strings.Contains(err.Error(), key.ID()) {
			t.Errorf("%s: %q does not name the key the value was sealed with (%s)", name, err, key.ID())
		}
	}
	if _, err := s.MarshalStored(nil); err == nil {
		t.Error("a key stored without a sealer")
	}
}

func TestSettingsFromEnv(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		wantEnabled bool
		wantKey     bool
		wantBase    string
		wantErr     bool
	}{
		{name: "nothing", env: nil, wantBase: DefaultBaseURL},
		{name: "key only", env: map[string]string{"OPENAI_API_KEY": testKey}, wantEnabled: true, wantKey: true, wantBase: DefaultBaseURL},
		{name: "base and key", env: map[string]string{"OPENAI_API_KEY": testKey, "OPENAI_BASE_URL": "http://127.0.0.1:8787/v1"}, wantEnabled: true, wantKey: true, wantBase: "http://127.0.0.1:8787/v1"},
		{name: "metadata base", env: map[string]string{"OPENAI_BASE_URL": "http://169.254.169.254/"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := SettingsFromEnv(func(k string) string { return tt.env[k] })
			if (err != nil) != tt.wantErr {
				t.Fatalf("err: got %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if s.Enabled != tt.wantEnabled || s.HasKey() != tt.wantKey || s.BaseURL != tt.wantBase {
				t.Errorf("got enabled=%v key=%v base=%q, want %v %v %q", s.Enabled, s.HasKey(), s.BaseURL, tt.wantEnabled, tt.wantKey, tt.wantBase)
			}
		})
	}
}

func TestSettingsHashChangesWithAnswerShape(t *testing.T) {
	a := DefaultSettings()
	b := a
	b.SystemPrompt += " Be terse."
	c := a
	c.APIKey = NewSecret("sk-other")
	if a.Hash() == b.Hash() {
		t.Error("hash ignores the system prompt")
	}
	if a.Hash() != c.Hash() {
		t.Error("hash depends on the key")
	}
}
