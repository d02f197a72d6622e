package webhook

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/webhook/verifyexample"
)

func TestSignAndVerify(t *testing.T) {
	secret := "whsec_test-secret-0123456789"
	body := []byte(`{"id":"e1","type":"message.created"}`)
	at := time.Unix(1_800_000_000, 0)
	header := Sign(secret, at, body)
	if header != "t=1800000000,v1="+mac(secret, "1800000000", body) {
		t.Fatalf("header %q", header)
	}
	tests := []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"good", secret, header, body, at.Add(time.Minute), nil},
		{"good, clock behind", secret, header, body, at.Add(-time.Minute), nil},
		{"two signatures, one good", secret, "t=1800000000,v1=00ff," + header[len("t=1800000000,"):], body, at, nil},
		{"wrong secret", "whsec_other", header, body, at, ErrSignature},
		{"body changed", secret, header, []byte(`{"id":"e1","type":"message.created" }`), at, ErrSignature},
		{"replayed later", secret, header, body, at.Add(Tolerance + time.Second), ErrStale},
		{"from the future", secret, header, body, at.Add(-Tolerance - time.Second), ErrStale},
		{"timestamp changed", secret, strings.Replace(header, "t=1800000000", "t=1800000001", 1), body, at, ErrSignature},
		{"no signature", secret, "t=1800000000", body, at, ErrBadHeader},
		{"no timestamp", secret, header[len("t=1800000000,"):], body, at, ErrBadHeader},
		{"garbage", secret, "hello", body, at, ErrBadHeader},
		{"empty", secret, "", body, at, ErrBadHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.header, tt.body, tt.now, Tolerance)
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
			// The receivers' examples agree.
			if got := verifyexample.Verify(tt.secret, tt.header, tt.body, tt.now); (got == nil) != (tt.want == nil) {
				t.Errorf("the Go example says %v, want ok=%v", got, tt.want == nil)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("t=1800000000,v1=abcd", []byte("{}"))
	f.Add("t=,v1=", []byte(""))
	f.Add(",,,=,=", []byte("x"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		now := time.Unix(1_800_000_000, 0)
		err := Verify("whsec_k", header, body, now, Tolerance)
		if err == nil && header != Sign("whsec_k", now, body) && !strings.Contains(header, mac("whsec_k", "1800000000", body)) {
			t.Fatalf("accepted %q for %q", header, body)
		}
	})
}

// The JavaScript example verifies real signatures, refuses wrong ones, and
// is what the docs show.
func TestJavaScriptExample(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required in CI")
		}
		t.Skip("SKIPPED LOUDLY: node is not installed; the JavaScript webhook example is not checked")
	}
	secret := NewSecret()
	body := []byte(`{"id":"e1","type":"message.created","data":{"message":{"text":"naïve café ☕"}}}`)
	now := time.Now()
	cases := []struct {
		secret, header string
		body           []byte
		want           string
	}{
		{secret, Sign(secret, now, body), body, "ok"},
		{"whsec_wrong", Sign(secret, now, body), body, "signature does not match"},
		{secret, Sign(secret, now, body), append(body, ' '), "signature does not match"},
		{secret, Sign(secret, now.Add(-10*time.Minute), body), body, "timestamp outside the 5-minute replay window"},
		{secret, "v1=00", body, "no timestamp in the signature header"},
	}
	var in strings.Builder
	for _, c := range cases {
		line, _ := json.Marshal(map[string]string{"secret": c.secret, "header": c.header, "body": base64.StdEncoding.EncodeToString(c.body)})
		in.Write(line)
		in.WriteByte('\n')
	}
	cmd := exec.Command(node, filepath.Join("verifyexample", "check.mjs"))
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for i, c := range cases {
		if !sc.Scan() {
			t.Fatalf("node printed %d lines for %d cases: %s", i, len(cases), out)
		}
		if sc.Text() != c.want {
			t.Errorf("case %d: node says %q, want %q", i, sc.Text(), c.want)
		}
	}
}

// docs/notifications.md shows the examples exactly as they are tested.
func TestDocsShowTheTestedExamples(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "notifications.md"))
	if err != nil {
		t.Fatal(err)
	}
	for file, from := range map[string]string{"verify.go": "import (", "verify.mjs": "import {"} {
		src, err := os.ReadFile(filepath.Join("verifyexample", file))
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(string(src), from)
		if i < 0 {
			t.Fatalf("%s: no %q", file, from)
		}
		if !strings.Contains(string(doc), string(src[i:])) {
			t.Errorf("docs/notifications.md does not show verifyexample/%s as it is (from %q on)", file, from)
		}
	}
}
