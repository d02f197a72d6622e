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
		{name: "openai key", in: "key: " + testOpenAIKey + ".", want: "key: [redacted]."},
		{name: "hex secret", in: "token " + testHexKey, want: "token [redacted]"},
		{name: "github token", in: "(" + testGitHubKey + ")", want: "([redacted])"},
		{name: "aws key id", in: "id=" + testAWSKey, want: "[redacted]"},
		{name: "bearer token", in: "Authorization: Bearer " + testBearerTok + " ok", want: "Authorization: Bearer [redacted] ok"},
		{name: "bearer word alone", in: "the bearer of good news", want: "the bearer of good news"},
		{name: "short sk word", in: "ask-me, sk-1234", want: "ask-me, sk-1234"},
		{name: "sk inside a word", in: "task-management-dashboard-view", want: "task-management-dashboard-view"},
		{name: "long word without digits", in: "supercalifragilisticexpialidocious-and-more", want: "supercalifragilisticexpialidocious-and-more"},
		{name: "overlong run", in: "x" + strings.Repeat("ab", 200) + " end", want: "x[redacted] end"[1:]},
		{name: "markdown image", in: "see ![logo](https://evil.example/p.png?q=secret) here", want: "see  here"},
		{name: "reference image", in: "a ![x][ref] b", want: "a  b"},
		{name: "img tag", in: `a <IMG src="http://evil/x.png"> b`, want: "a  b"},
		{name: "link kept", in: "[docs](https://example.com/docs)", want: "[docs](https://example.com/docs)"},
		{name: "exclamation kept", in: "Great! [yes] <b>bold</b> <imgur>", want: "Great! [yes] <b>bold</b> <imgur>"},
		{name: "unterminated image at end", in: "look ![alt](http://x", want: "look ![alt](http://x"},
		{name: "image with newline in url", in: "![a](http://x\ny)", want: "![a](http://x\ny)"},
		{name: "chinese text", in: "您好，我们的营业时间是9点到17点。", want: "您好，我们的营业时间是9点到17点。"},
		{name: "key after chinese", in: "密钥" + testOpenAIKey, want: "密钥[redacted]"},
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

func TestFilterHoldsOnlyAShortTail(t *testing.T) {
	var f Filter
	out := f.Write("Hello there, how are you")
	// "you" may still grow into a token; everything before it is final.
	if got, want := out, "Hello there, how are "; got != want {
		t.Errorf("Write: got %q, want %q", got, want)
	}
	if got, want := f.Flush(), "you"; got != want {
		t.Errorf("Flush: got %q, want %q", got, want)
	}
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
