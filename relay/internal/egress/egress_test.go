package egress

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestCheckAddr(t *testing.T) {
	// want: "" allowed by both policies, "private" allowed only with
	// AllowPrivate, "never" refused by both.
	tests := []struct {
		addr, want string
	}{
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"2606:4700::1111", ""},
		{"::ffff:8.8.8.8", ""},
		{"127.0.0.1", "private"},
		{"127.8.9.10", "private"},
		{"::1", "private"},
		{"10.0.0.5", "private"},
		{"172.16.3.4", "private"},
		{"192.168.1.2", "private"},
		{"fd12::1", "private"},
		{"100.64.0.1", "private"},
		{"::ffff:10.0.0.5", "private"},
		{"64:ff9b::a00:5", "private"}, // NAT64 of 10.0.0.5
		{"2002:a00:5::1", "private"},  // 6to4 of 10.0.0.5
		{"64:ff9b::808:808", ""},      // NAT64 of 8.8.8.8
		{"192.0.2.1", "private"},      // documentation
		{"198.18.0.1", "private"},     // benchmarking
		{"240.0.0.1", "private"},      // reserved
		{"2001:db8::1", "private"},    // documentation
		{"169.254.169.254", "never"},  // AWS, GCP, Azure metadata
		{"169.254.1.1", "never"},      // link-local
		{"fe80::1", "never"},          // link-local
		{"fe80::1%eth0", "never"},     // with a zone
		{"fd00:ec2::254", "never"},    // AWS IMDS over IPv6
		{"100.100.100.200", "never"},  // Alibaba metadata
		{"::ffff:169.254.169.254", "never"},
		{"64:ff9b::a9fe:a9fe", "never"}, // NAT64 of 169.254.169.254
		{"0.0.0.0", "never"},
		{"::", "never"},
		{"224.0.0.1", "never"},
		{"ff02::1", "never"},
		{"255.255.255.255", "never"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tt.addr)
			strict, lax := Policy{}.CheckAddr(a), Policy{AllowPrivate: true}.CheckAddr(a)
			var got string
			switch {
			case strict == nil && lax == nil:
				got = ""
			case strict != nil && lax == nil:
				got = "private"
			case strict != nil && lax != nil:
				got = "never"
			default:
				got = "lax refuses what strict allows"
			}
			if got != tt.want {
				t.Errorf("got %q (strict: %v, lax: %v), want %q", got, strict, lax, tt.want)
			}
			var re *RefusedError
			if strict != nil && (!errors.As(strict, &re) || !errors.Is(strict, ErrRefused) || re.Private != (tt.want == "private")) {
				t.Errorf("refusal %#v: want a *RefusedError matching ErrRefused, Private %v", strict, tt.want == "private")
			}
		})
	}
}

func TestCheckURLAndHost(t *testing.T) {
	tests := []struct {
		url           string
		strict, lax   bool // allowed?
		wantInMessage string
	}{
		{"https://api.openai.com/v1", true, true, ""},
		{"http://127.0.0.1:11434/v1", false, true, "127.0.0.1 is a loopback address"},
		{"http://[::1]:8080/", false, true, "::1 is a loopback address"},
		{"http://localhost:8080/v1", false, true, "localhost is a loopback name"},
		{"http://api.localhost/v1", false, true, "loopback name"},
		{"http://10.1.2.3/v1", false, true, "10.1.2.3 is a private address"},
		{"http://169.254.169.254/latest", false, false, "metadata"},
		{"http://metadata.google.internal./v1", false, false, "cloud metadata host"},
		{"http://[fd00:ec2::254]/", false, false, "metadata"},
		{"file:///etc/passwd", false, false, "scheme"},
		{"https://u:p@api.example.com/", false, false, "credentials"},
		{"https:///v1", false, false, "no host"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, strict := Policy{}.CheckURL(tt.url)
			_, lax := Policy{AllowPrivate: true}.CheckURL(tt.url)
			if (strict == nil) != tt.strict || (lax == nil) != tt.lax {
				t.Fatalf("strict: %v, lax: %v; want allowed %v, %v", strict, lax, tt.strict, tt.lax)
			}
			if strict != nil && !strings.Contains(strict.Error(), tt.wantInMessage) {
				t.Errorf("message %q, want it to say %q", strict, tt.wantInMessage)
			}
			if strict != nil && !errors.Is(strict, ErrRefused) {
				t.Errorf("%v does not match ErrRefused", strict)
			}
		})
	}
}

// TestControlRefusesWhatIsDialled checks the policy where it matters: on a
// real connection to a real listener, after the name was resolved.
func TestControlRefusesWhatIsDialled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("reached")) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	// "localhost" passes no literal check: only the address it resolves
	// to shows it is loopback.
	url := "http://localhost:" + port + "/"
	client := func(p Policy) *http.Client {
		d := &net.Dialer{Timeout: 5 * time.Second, Control: p.Control}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
	}
	_, err := client(Policy{}).Get(url)
	var re *RefusedError
	if !errors.As(err, &re) || !re.Private {
		t.Fatalf("strict policy dialling localhost: %v, want a *RefusedError", err)
	}
	res, err := client(Policy{AllowPrivate: true}).Get(url)
	if err != nil {
		t.Fatalf("lax policy: %v", err)
	}
	res.Body.Close()
	if err := (Policy{}).Control("tcp", "not-an-address:80", nil); !errors.Is(err, ErrRefused) {
		t.Errorf("a name reaching Control: %v", err)
	}
}
