package ai

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/kefuhq/kefu/relay/internal/egress"
)

// The base URL is entered by an admin, so the relay must not become a way
// to reach the cloud provider's metadata service (which hands out
// credentials) or anything link-local. Loopback and private addresses stay
// allowed for answers on purpose: self-hosted models live there, and so do
// tests (Options.Egress). The same check runs twice: on the URL when
// settings are saved, and on every address actually dialled (DNS may
// answer with a metadata address).

var errBaseURL = errors.New("base URL not allowed")

// upstreamPolicy is where answers may come from unless Options.Egress
// says otherwise: anywhere but metadata, link-local and the like.
func upstreamPolicy() egress.Policy { return egress.Policy{AllowPrivate: true} }

// CheckBaseURL parses and checks an upstream base URL: http or https, a
// host, no credentials, query or fragment (the client appends the path),
// and no metadata or link-local host.
func CheckBaseURL(raw string) (*url.URL, error) { return checkBaseURL(raw, upstreamPolicy()) }

// checkBaseURL is CheckBaseURL under policy p.
func checkBaseURL(raw string, p egress.Policy) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBaseURL, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%w: scheme %q (want http or https)", errBaseURL, u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%w: no host", errBaseURL)
	case u.User != nil:
		return nil, fmt.Errorf("%w: credentials in the URL (use the API key field)", errBaseURL)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("%w: query or fragment", errBaseURL)
	}
	if err := p.CheckHost(u.Hostname()); err != nil {
		return nil, fmt.Errorf("%w: %w", errBaseURL, err)
	}
	return u, nil
}

// hostKey is the identity a key is bound to: lower-case host and port,
// with the scheme's default port filled in, so "https://api.x.com" and
// "https://API.x.com:443/v1" are the same host and "http://api.x.com" is not.
func hostKey(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return u.Scheme + "://" + net.JoinHostPort(strings.TrimSuffix(strings.ToLower(u.Hostname()), "."), port)
}

// hostKeyOf is hostKey for a raw base URL; "" if it does not parse.
func hostKeyOf(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return ""
	}
	return hostKey(u)
}
