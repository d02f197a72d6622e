package visitctx

import "strings"

// Browser derives the browser and OS family with their major versions
// from a User-Agent header ("Chrome 131", "Android 14"); "" for what it
// does not know. It is a short table on purpose, not a full parser (the
// ua-parser regex sets are ~1 MB and change monthly): agents need the
// family and the major version, and since the browsers froze their
// User-Agents (Chrome's reduction, Safari's frozen macOS 10_15_7) that is
// all a User-Agent still tells. Order matters: Edge, Opera and Samsung
// Internet also say "Chrome", and Chrome also says "Safari".
func Browser(ua string) (browser, os string) {
	if len(ua) > 1024 {
		ua = ua[:1024]
	}
	return browserOf(ua), osOf(ua)
}

// browsers is tried in order: the first token found names the browser;
// its version follows the token.
var browsers = []struct{ token, name string }{
	{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"},
	{"OPR/", "Opera"}, {"OPiOS/", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"YaBrowser/", "Yandex"},
	{"Vivaldi/", "Vivaldi"},
	{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
	{"CriOS/", "Chrome"}, {"Chromium/", "Chromium"}, {"HeadlessChrome/", "Headless Chrome"}, {"Chrome/", "Chrome"},
}

func browserOf(ua string) string {
	for _, b := range browsers {
		if i := strings.Index(ua, b.token); i >= 0 {
			return withMajor(b.name, ua[i+len(b.token):])
		}
	}
	// Safari says its own version after "Version/"; its "Safari/" number
	// is WebKit's.
	if strings.Contains(ua, "Safari/") && strings.Contains(ua, "AppleWebKit/") {
		if i := strings.Index(ua, "Version/"); i >= 0 {
			return withMajor("Safari", ua[i+len("Version/"):])
		}
		return "Safari"
	}
	return ""
}

func osOf(ua string) string {
	switch {
	case strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPad") || strings.Contains(ua, "iPod"):
		// "CPU iPhone OS 17_1 like Mac OS X", "CPU OS 16_6 like Mac OS X"
		if i := strings.Index(ua, "OS "); i >= 0 {
			return withMajor("iOS", ua[i+3:])
		}
		return "iOS"
	case strings.Contains(ua, "Android"):
		if i := strings.Index(ua, "Android "); i >= 0 {
			return withMajor("Android", ua[i+len("Android "):])
		}
		return "Android"
	case strings.Contains(ua, "CrOS"):
		return "ChromeOS"
	case strings.Contains(ua, "Windows"):
		// Windows 11 still says "Windows NT 10.0": the version tells
		// nothing more than "Windows".
		return "Windows"
	case strings.Contains(ua, "Macintosh") || strings.Contains(ua, "Mac OS X"):
		// Frozen at 10_15_7 by every browser: no version.
		return "macOS"
	case strings.Contains(ua, "Linux") || strings.Contains(ua, "X11"):
		return "Linux"
	}
	return ""
}

// withMajor is name and the leading digits of v ("131.0.1" → "name 131"),
// or name alone when v starts with none.
func withMajor(name, v string) string {
	n := 0
	for n < len(v) && n < 6 && v[n] >= '0' && v[n] <= '9' {
		n++
	}
	if n == 0 {
		return name
	}
	return name + " " + v[:n]
}
