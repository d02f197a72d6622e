package ai

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
	"github.com/kefuhq/kefu/relay/internal/egress"
	"github.com/kefuhq/kefu/relay/internal/testkit"
)

// bannerServer accepts connections and writes a line that is not HTTP,
// like an SSH or SMTP port would.
func bannerServer(t *testing.T, banner string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(banner + "\r\n"))
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// closedPort returns an address nothing listens on. It comes from below
// the ephemeral range (testkit.FreePort): a port found with bind(:0) and
// closed went to the next bind(:0), and CI once saw "connection refused"
// answered by the banner server this test starts next.
func closedPort(t *testing.T) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(testkit.FreePort(t)))
}

func TestUpstreamFailuresAreClassified(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{})
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler()) // a certificate nobody trusts
	defer tlsSrv.Close()
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html>" + strings.Repeat("<p>welcome to the intranet</p>\n", 5000)))
	}))
	defer html.Close()
	tests := []struct {
		name     string
		base     string
		scenario openaitest.Scenario
		want     Failure
		status   int
	}{
		{name: "HTTP status", base: up.BaseURL, scenario: openaitest.Unauthorized, want: FailStatus, status: 401},
		{name: "connection refused", base: "http://" + closedPort(t) + "/v1", want: FailConnect},
		{name: "not HTTP", base: "http://" + bannerServer(t, "SSH-2.0-OpenSSH_9.2 secret-banner") + "/v1", want: FailProtocol},
		{name: "untrusted certificate", base: tlsSrv.URL + "/v1", want: FailTLS},
		{name: "a page, not a stream", base: html.URL + "/v1", want: FailProtocol},
		{name: "cut stream", base: up.BaseURL, scenario: openaitest.Cut, want: FailCut},
	}
	c := newTestClient(t, fastOptions(t))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.scenario != "" {
				up.Enqueue(tt.scenario)
			}
			_, err := c.Stream(t.Context(), settingsFor(t, tt.base, "local-key-1"), BuildMessages(DefaultSettings(), nil, userMsgs("hi")), nil)
			var ue *UpstreamError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v, want an *UpstreamError", err)
			}
			if ue.Failure != tt.want || ue.Status != tt.status {
				t.Errorf("failure %q status %d (%v), want %q %d", ue.Failure, ue.Status, ue, tt.want, tt.status)
			}
		})
	}
	if err := (&tls.RecordHeaderError{}); failureOf(*err) != FailTLS {
		t.Error("a TLS record error is not classified as tls")
	}
	if failureOf(&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}) != FailDNS {
		t.Error("a DNS error is not classified as dns")
	}
}

func TestEgressPolicyRefusesBeforeAndWhileDialling(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{})
	o := fastOptions(t)
	o.Egress = &egress.Policy{} // public addresses only
	c := newTestClient(t, o)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(strings.TrimSuffix(up.BaseURL, "/v1"), "http://"))
	for _, base := range []string{
		up.BaseURL,                          // an address literal: refused before any request
		"http://localhost:" + port + "/v1",  // a loopback name: refused before any request
		"http://localhost.:" + port + "/v1", // the same name, fully qualified
	} {
		_, err := c.Stream(t.Context(), settingsFor(t, base, "local-key-1"), BuildMessages(DefaultSettings(), nil, userMsgs("hi")), nil)
		var re *egress.RefusedError
		if !errors.As(err, &re) || !re.Private {
			t.Errorf("%s: %v, want a refusal of a private destination", base, err)
		}
	}
	if n := up.Count(); n != 0 {
		t.Errorf("the loopback upstream got %d requests under a public-only policy", n)
	}
	// The default policy (answers to visitors) reaches it.
	if _, err := newTestClient(t, fastOptions(t)).Stream(t.Context(), settingsFor(t, up.BaseURL, "local-key-1"), BuildMessages(DefaultSettings(), nil, userMsgs("hi")), nil); err != nil {
		t.Errorf("default policy: %v", err)
	}
}
