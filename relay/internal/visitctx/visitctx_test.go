package visitctx

import (
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

func TestBrowser(t *testing.T) {
	tests := []struct{ ua, browser, os string }{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome 131", "Windows"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86", "Edge 131", "Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15", "Safari 17", "macOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1", "Safari 17", "iOS 17"},
		{"Mozilla/5.0 (iPad; CPU OS 16_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/130.0.6723.90 Mobile/15E148 Safari/604.1", "Chrome 130", "iOS 16"},
		{"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", "Samsung Internet 26", "Android 14"},
		{"Mozilla/5.0 (Android 15; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", "Firefox 133", "Android 15"},
		{"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox 128", "Linux"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0", "Opera 106", "Linux"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome 131", "ChromeOS"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "Headless Chrome 131", "Linux"},
		{"curl/8.5.0", "", ""},
		{"", "", ""},
		{"Chrome/" + strings.Repeat("9", 5000), "Chrome 999999", ""},
	}
	for _, tt := range tests {
		b, o := Browser(tt.ua)
		if b != tt.browser || o != tt.os {
			t.Errorf("Browser(%.60q) = %q, %q; want %q, %q", tt.ua, b, o, tt.browser, tt.os)
		}
	}
}

func TestCleanURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://Shop.Example/cart?email=ann%40example.com&token=s3cret#pay", "https://shop.example/cart"},
		{"http://ann:pw@shop.example:8080/a/b", "http://shop.example:8080/a/b"},
		{"https://shop.example", "https://shop.example"},
		{"https://shop.example/caf%C3%A9/ü", "https://shop.example/caf%C3%A9/%C3%BC"},
		{"javascript:alert(1)", ""},
		{"data:text/html,<b>x</b>", ""},
		{"/relative", ""},
		{"ftp://files.example/x", ""},
		{"https:///nohost", ""},
		{"https://a.example/" + strings.Repeat("é", 400), ""}, // checked below: cut, not dropped
	}
	for _, tt := range tests[:len(tests)-1] {
		if got := CleanURL(tt.in); got != tt.want {
			t.Errorf("CleanURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := CleanURL(tests[len(tests)-1].in)
	if len(long) == 0 || len(long) > MaxURL || !strings.HasPrefix(long, "https://a.example/") {
		t.Errorf("a long address is cut to %d bytes: got %d bytes %q", MaxURL, len(long), long)
	}
}

func TestCleanTitle(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Cart \n\t(2)  — Shop ", "Cart (2) — Shop"},
		{"<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>"}, // kept as text; pages render it as text
		{"a\x00b\u2028c", "a b c"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := CleanTitle(tt.in); got != tt.want {
			t.Errorf("CleanTitle(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := CleanTitle(strings.Repeat("界", 100)); len(got) > MaxTitle || got != strings.Repeat("界", MaxTitle/3) {
		t.Errorf("long title cut to %d bytes on a character boundary: %q", MaxTitle, got)
	}
	if PageOf("javascript:x", "t") != nil {
		t.Error("PageOf kept a javascript: address")
	}
	if p := PageOf("https://a.example/x?y", " T "); p == nil || p.URL != "https://a.example/x" || p.Title != "T" {
		t.Errorf("PageOf = %+v", p)
	}
}

func TestApplyVisits(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	var c store.VisitorContext
	steps := []struct {
		at     time.Duration
		seen   Seen
		write  bool
		visits int
		ref    string
	}{
		{0, Seen{Browser: "Firefox 133", Referrer: "https://search.example/"}, true, 1, "https://search.example/"},
		{time.Minute, Seen{Browser: "Firefox 133"}, false, 1, "https://search.example/"},                                         // same visit, nothing new
		{2 * time.Minute, Seen{Browser: "Firefox 133", Referrer: "https://other.example/"}, false, 1, "https://search.example/"}, // the landing's referrer stays
		{6 * time.Minute, Seen{}, true, 1, "https://search.example/"},                                                            // SeenEvery: written
		{20 * time.Minute, Seen{TimeZone: "Europe/Berlin"}, true, 1, "https://search.example/"},                                  // a new fact
		{60 * time.Minute, Seen{}, true, 2, ""},                                                                                  // 40 min quiet: a new visit, direct
		{62 * time.Minute, Seen{Referrer: "https://news.example/a"}, true, 2, "https://news.example/a"},                          // the visit's first referrer
	}
	for i, s := range steps {
		got := Apply(&c, s.seen, t0.Add(s.at))
		if got != s.write || c.Visits != s.visits || c.Referrer != s.ref {
			t.Fatalf("step %d: write %v visits %d referrer %q; want %v %d %q", i, got, c.Visits, c.Referrer, s.write, s.visits, s.ref)
		}
	}
	if c.Browser != "Firefox 133" || c.TimeZone != "Europe/Berlin" || !c.VisitStart.Equal(t0.Add(60*time.Minute)) {
		t.Errorf("context = %+v", c)
	}
}
