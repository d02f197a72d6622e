package ai

import (
	"strings"
	"testing"
)

// Keys used across tests: each looks like a real one of its kind.
const (
	testOpenAIKey = "sk-proj-Q7wK2mZp9XrT4vLb8NcY3dHf6JsA1gEu5RiO0tWy"
	testHexKey    = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c"
	testGitHubKey = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z"
	testAWSKey    = "AKIAIOSFODNN7EXAMPLE"
	testBearerTok = "abcdefghijkLMNOPQR"
)

var testKeys = []string{testOpenAIKey, testHexKey, testGitHubKey, testAWSKey}

func TestFilterString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "plain text", in: "We open at 9:00 and close at 17:00.", want: "We open at 9:00 and close at 17:00."},
		{name: "openai key", in: "key: " + testOpenAIKey + ".", want: "key: sk-[redacted]."},
		{name: "hex secret", in: "token " + testHexKey, want: "token 9f[redacted]"},
		{name: "github token", in: "(" + testGitHubKey + ")", want: "(ghp_[redacted])"},
		{name: "aws key id", in: "id=" + testAWSKey, want: "id=AKIA[redacted]"},
		{name: "bearer token", in: "Authorization: Bearer " + testBearerTok + " ok", want: "Authorization: Bearer [redacted] ok"},
		{name: "bearer word alone", in: "the bearer of good news", want: "the bearer of good news"},
		{name: "short sk word", in: "ask-me, sk-1234", want: "ask-me, sk-1234"},
		{name: "sk inside a word", in: "task-management-dashboard-view", want: "task-management-dashboard-view"},
		{name: "long word without digits", in: "supercalifragilisticexpialidocious-and-more", want: "supercalifragilisticexpialidocious-and-more"},
		{name: "overlong run", in: "x" + strings.Repeat("ab", 200) + " end", want: "xabababababababa[redacted] end"},
		{name: "markdown image", in: "see ![logo](https://evil.example/p.png?q=secret) here", want: "see ! here"},
		{name: "reference image", in: "a ![x][ref] b", want: "a ! b"},
		{name: "img tag", in: `a <IMG src="http://evil/x.png"> b`, want: "a  b"},
		{name: "link kept", in: "[docs](https://example.com/docs)", want: "[docs](https://example.com/docs)"},
		{name: "exclamation kept", in: "Great! [yes] <b>bold</b> <imgur>", want: "Great! [yes] <b>bold</b> <imgur>"},
		{name: "unterminated image at end", in: "look ![alt](http://x", want: "look ![alt](http://x"},
		{name: "image with newline in url", in: "![a](http://x\ny)", want: "![a](http://x\ny)"},
		{name: "chinese text", in: "您好，我们的营业时间是9点到17点。", want: "您好，我们的营业时间是9点到17点。"},
		{name: "key after chinese", in: "密钥" + testOpenAIKey, want: "密钥sk-[redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FilterString(tt.in); got != tt.want {
				t.Errorf("FilterString(%q):\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// filterChunks runs the filter over input cut at the given sizes
// (cycled), and returns the output.
func filterChunks(input string, sizes []int) string {
	var f Filter
	var out strings.Builder
	for i, k := 0, 0; i < len(input); k++ {
		n := 1
		if len(sizes) > 0 {
			n = max(sizes[k%len(sizes)], 1)
		}
		end := min(i+n, len(input))
		out.WriteString(f.Write(input[i:end]))
		i = end
	}
	out.WriteString(f.Flush())
	return out.String()
}

func TestFilterChunkingIndependent(t *testing.T) {
	inputs := []string{
		"Hello ![img](http://evil/a.png) and Bearer " + testBearerTok + " and " + testOpenAIKey + " bye",
		"<img src=x> text <im <img\n/> !! ![ ] ![a]b " + testHexKey,
		strings.Repeat("token1234 ", 50) + strings.Repeat("z", 300) + "9 tail",
	}
	for _, in := range inputs {
		want := FilterString(in)
		for _, sizes := range [][]int{{1}, {2}, {3, 1}, {7}, {64}, {5, 11, 1}} {
			if got := filterChunks(in, sizes); got != want {
				t.Errorf("chunks %v of %q:\n got %q\nwant %q", sizes, in, got, want)
			}
		}
	}
}

func TestFilterKeySplitAcrossChunks(t *testing.T) {
	for _, key := range testKeys {
		in := "Your key is " + key + " - keep it safe."
		for size := 1; size <= len(key); size++ {
			got := filterChunks(in, []int{size})
			if strings.Contains(got, key) {
				t.Fatalf("chunk size %d leaked %q: %q", size, key, got)
			}
			if !strings.Contains(got, replacement) {
				t.Fatalf("chunk size %d: got %q, want a %s marker", size, got, replacement)
			}
		}
	}
}

// TestFilterNoLag: text that cannot be the start of anything the filter
// hides comes out of the same Write that brought it in, chunked as OpenAI
// streams (" word", punctuation on its own, digits in groups).
func TestFilterNoLag(t *testing.T) {
	chunks := []string{"Hello", "!", " Your", " order", " #", "123", "456", " ships", " within",
		" 2", "-", "3", " days", ".", " See", " [", "Returns", "](", "https", "://", "shop", ".example", "/returns", ")",
		" or", " ask", " me", " again", " —", " we", "'re", " here", " 24", "/", "7", ".\n\n", " 9", "am", " e", "-mail", ":",
		" 您好", "，", "欢迎", " FAQ", " USA", " Kefu", " AI", " A", " dog", "."}
	var f Filter
	for _, c := range chunks {
		if got := f.Write(c); got != c {
			t.Errorf("Write(%q) = %q: held back", c, got)
		}
	}
	if got := f.Flush(); got != "" {
		t.Errorf("Flush: got %q, want nothing left", got)
	}
	// A chunk released whole is the chunk itself: no copy per word.
	if n := testing.AllocsPerRun(100, func() { f.Write(" order") }); n != 0 {
		t.Errorf("Write of a plain word: %v allocations, want 0", n)
	}
}

// TestFilterHoldsWhatItMust: a possible secret, image or marker at the end
// of a chunk is held, and decided by what follows.
func TestFilterHoldsWhatItMust(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		want   []string // what each Write returns, then Flush
	}{
		{"mixed token", []string{" id", " a1b2", " ok"}, []string{" id", " a1", "b2 ok", ""}},
		{"hex", []string{" 9f86d081", "884c7d659a2feaa0c55ad015", "."}, []string{" 9f", "", "[redacted].", ""}},
		{"key prefix", []string{" sk", "-proj", "-Q7wK2mZp9XrT4vLb8NcY3dHf", " ok"}, []string{" sk", "-", "", "[redacted] ok", ""}},
		{"aws prefix", []string{" AKIA", "IOSFODNN7EXAMPLE", "."}, []string{" AKIA", "", "[redacted].", ""}},
		{"bearer", []string{"Bearer", " abc", "defghij", " x"}, []string{"Bearer", " ", "", "[redacted] x", ""}},
		{"long word", []string{" internationalization", "s", " go"}, []string{" internationaliza", "", "tions go", ""}},
		{"image", []string{"Look", "!", "[", "x", "](http://e/x.png)", " ok"}, []string{"Look", "!", "", "", "", " ok", ""}},
		{"bracket after bang", []string{"Hi", "!", "[", "Returns", "]", " x"}, []string{"Hi", "!", "", "", "", "[Returns] x", ""}},
		{"link", []string{" [", "Returns", "](", "https", "://s/r)"}, []string{" [", "Returns", "](", "https", "://s/r)", ""}},
		{"marker", []string{"Sure", ".", " <<", "hand", "off", ">>", " more"}, []string{"Sure", ".", " ", "", "", "", "", ""}},
		{"not a marker", []string{" <<", "hand", "y", ">>"}, []string{" ", "", "<<handy", ">>", ""}},
		{"tag", []string{"a", " <", "img src=x>", "b"}, []string{"a", " ", "", "b", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Filter
			for i, c := range tt.chunks {
				if got := f.Write(c); got != tt.want[i] {
					t.Errorf("Write(%q): got %q, want %q", c, got, tt.want[i])
				}
			}
			if got := f.Flush(); got != tt.want[len(tt.want)-1] {
				t.Errorf("Flush: got %q, want %q", got, tt.want[len(tt.want)-1])
			}
		})
	}
}

func TestFilterMarker(t *testing.T) {
	var f Filter
	out := f.Write("I'll pass you to a colleague. <<HandOff>> reason: refund")
	if out != "I'll pass you to a colleague. " || !f.Handoff() {
		t.Errorf("got %q, handoff %v", out, f.Handoff())
	}
	if got := f.Write(" more text"); got != "" {
		t.Errorf("after the marker: got %q", got)
	}
	if got := FilterString("a <<hand b"); got != "a <<hand b" {
		t.Errorf("partial marker at eof: got %q", got)
	}
}

// secretBody is the part of a secret the filter must never show: all of it
// but the head it may show before the token is decided (a known key's
// public prefix, or a head shaped like a word or a number, as safeHead
// describes), computed here independently of safeHead.
func secretBody(secret string) string {
	for _, p := range keyPrefixes {
		if strings.HasPrefix(secret, p) {
			return secret[len(p):]
		}
	}
	// At most one change between letters and digits, so the head ends
	// before the second change, or at maxSafeHead.
	changes, k := 0, 0
	for k = 1; k < len(secret) && k < maxSafeHead; k++ {
		a, b := secret[k-1], secret[k]
		if isDigit(a) && isLetter(b) || isLetter(a) && isDigit(b) {
			if changes++; changes > 1 {
				break
			}
		}
	}
	return secret[k:]
}

// genSecret builds a key-like token from fuzz bytes: one of the shapes
// the filter promises to hide.
func genSecret(seed []byte, kind uint8) string {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	const hexd = "0123456789abcdef"
	pick := func(set string, n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			c := byte(i * 7)
			if len(seed) > 0 {
				c += seed[i%len(seed)] + byte(i/len(seed))
			}
			b.WriteByte(set[int(c)%len(set)])
		}
		return b.String()
	}
	var s string
	switch kind % 4 {
	case 0: // a known prefix and a random body
		s = keyPrefixes[int(kind/4)%len(keyPrefixes)] + pick(alnum, 24)
	case 1: // hex, at least one letter and one digit
		s = pick(hexd, 40) + "a1"
	case 2: // base62, letters and digits
		s = pick(alnum, 36) + "Z9"
	default: // JWT-like
		s = "eyJ" + pick(alnum, 30) + "9"
	}
	return s
}

// hidden reports whether the secret, written between spaces, was replaced
// in place (at most its head shown, then the replacement) or dropped whole
// (inside an image tag, after a hand-off marker): no 8-byte piece of its
// body shows.
func hidden(got, secret, body string) bool {
	for h := 0; h <= len(secret)-len(body); h++ {
		if strings.Contains(got, " "+secret[:h]+replacement+" ") {
			return true
		}
	}
	for k := 0; k+8 <= len(body); k++ {
		if strings.Contains(got, body[k:k+8]) {
			return false
		}
	}
	return true
}

// FuzzFilterSecretSplit: a secret split over any chunk boundary, in any
// text, is never shown: no 8-byte piece of its body appears, however the
// stream is cut.
func FuzzFilterSecretSplit(f *testing.F) {
	f.Add("Your key is ", " keep it.", []byte{1, 2, 3}, uint8(0), uint8(3))
	f.Add("", "", []byte("hello"), uint8(1), uint8(1))
	f.Add("token:", "!", []byte{0xff}, uint8(2), uint8(5))
	f.Add("Bearer", "", []byte("x"), uint8(3), uint8(2))
	f.Add("word", "more", []byte("abcdefgh"), uint8(6), uint8(4))
	f.Fuzz(func(t *testing.T, before, after string, seed []byte, kind, cut uint8) {
		secret := genSecret(seed, kind)
		in := before + " " + secret + " " + after
		body := secretBody(secret)
		for _, size := range []int{1, int(cut%17) + 1, len(before) + 2 + int(cut)%len(secret), 1 << 20} {
			got := filterChunks(in, []int{size})
			if !hidden(got, secret, body) {
				t.Fatalf("chunk size %d showed secret %q (body %q): %q", size, secret, body, got)
			}
		}
		// Every single cut point of the secret, too.
		start := len(before) + 1
		for c := start; c <= start+len(secret); c++ {
			var fl Filter
			got := fl.Write(in[:c]) + fl.Write(in[c:]) + fl.Flush()
			if want := FilterString(in); got != want {
				t.Fatalf("cut at %d changed the output:\n got %q\nwant %q", c, got, want)
			}
		}
	})
}

// FuzzFilter checks the filter's promises on any input: no panic, the
// same output for any chunking of the input, and no key ever emitted whole.
func FuzzFilter(f *testing.F) {
	seeds := []string{
		"", "plain text", "![a](b)", "<img>", "Bearer x", "sk-", "!", "<", "![",
		"Hello ![img](http://evil/a.png) world", "<img src='x' onerror=alert(1)>",
		strings.Repeat("a1", 200), "日本語のテキスト", "\xff\xfe invalid", "a!b<c![d]e",
	}
	for i, s := range seeds {
		f.Add(s, uint8(i%7+1), uint8(i%len(testKeys)))
	}
	f.Fuzz(func(t *testing.T, in string, chunk uint8, keyIdx uint8) {
		whole := FilterString(in)
		if got := filterChunks(in, []int{int(chunk)}); got != whole {
			t.Fatalf("chunking %d changed output:\n got %q\nwant %q", chunk, got, whole)
		}
		key := testKeys[int(keyIdx)%len(testKeys)]
		mid := len(in) / 2
		withKey := in[:mid] + " " + key + " " + in[mid:]
		for _, size := range []int{1, int(chunk), 1 << 20} {
			if got := filterChunks(withKey, []int{size}); strings.Contains(got, key) {
				t.Fatalf("chunk size %d leaked the key: %q", size, got)
			}
		}
	})
}
