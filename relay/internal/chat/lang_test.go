package chat

import "testing"

func TestLangOf(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"Where is my order?", "en"},
		{"Wo ist meine Bestellung?", "en"}, // Latin script: no guess beyond English
		{"我的订单在哪里？", "zh"},
		{"注文はどこですか", "ja"},
		{"東京注文", "zh"},     // Han alone reads as Chinese…
		{"東京のちゅうもん", "ja"}, // …kana makes it Japanese
		{"주문이 어디 있나요?", "ko"},
		{"أين طلبي؟", "ar"},
		{"", "en"},
	} {
		if got := LangOf(tt.text); got != tt.want {
			t.Errorf("LangOf(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}
