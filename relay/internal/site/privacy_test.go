package site

import (
	"strings"
	"testing"
)

func TestPrivacySettings(t *testing.T) {
	def := DefaultSettings()
	if def.Fingerprint || def.StoreDays != DefaultStoreDays || def.PrivacyNotice != "" || def.PrivacyURL != "" {
		t.Fatalf("defaults = %+v: the fingerprint must be off, the browser copy kept %d days, no notice", def, DefaultStoreDays)
	}
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Settings)
		says   string // "" means valid
	}{
		{"notice and link", func(s *Settings) {
			s.PrivacyNotice, s.PrivacyURL = "We keep chats 90 days.", "https://shop.example/privacy"
		}, ""},
		{"fingerprint on", func(s *Settings) { s.Fingerprint = true }, ""},
		{"a year", func(s *Settings) { s.StoreDays = 365 }, ""},
		{"no days", func(s *Settings) { s.StoreDays = 0 }, "store_days"},
		{"too many days", func(s *Settings) { s.StoreDays = 366 }, "store_days"},
		{"long notice", func(s *Settings) { s.PrivacyNotice = strings.Repeat("x", 501) }, "privacy_notice"},
		{"script link", func(s *Settings) { s.PrivacyURL = "javascript:alert(1)" }, "privacy_url"},
		{"data link", func(s *Settings) { s.PrivacyURL = "data:text/html,hi" }, "privacy_url"},
		{"relative link", func(s *Settings) { s.PrivacyURL = "/privacy" }, "privacy_url"},
		{"long link", func(s *Settings) { s.PrivacyURL = "https://shop.example/" + strings.Repeat("p", 500) }, "privacy_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSettings()
			tc.change(&s)
			err := s.Validate()
			switch {
			case tc.says == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)):
				t.Errorf("error = %v, want one about %s", err, tc.says)
			}
		})
	}
}
