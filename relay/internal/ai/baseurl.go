package ai

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// The base URL is entered by an admin, so the relay must not become a way
// to reach the cloud provider's metadata service (which hands out
// credentials) or anything link-local. Loopback and private addresses stay
// allowed on purpose: self-hosted models live there, and so do tests.
// The same check runs twice: on the URL when settings are saved, and on
// every address actually dialled (DNS may answer with a metadata address).

var errBaseURL = errors.New("base URL not allowed")

// blockedNames are metadata service host names.
var blockedNames = []string{"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"}

// blockedAddrs are metadata addresses outside the link-local ranges.
var blockedAddrs = []netip.Addr{
	netip.MustParseAddr("fd00:ec2::254"),   // AWS IMDS over IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud metadata
}

// CheckBaseURL parses and checks an upstream base URL: http or https, a
// host, no credentials, query or fragment (the client appends the path),
// and no metadata or link-local host.
func CheckBaseURL(raw string) (*url.URL, error) {
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
	if err := checkHost(u.Hostname()); err != nil {
		return nil, err
	}
	return u, nil
}

// checkHost rejects metadata names and blocked address literals.
func checkHost(host string) error {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	for _, n := range blockedNames {
		if h == n {
			return fmt.Errorf("%w: %s is a cloud metadata host", errBaseURL, host)
		}
	}
	if a, err := netip.ParseAddr(h); err == nil && blockedIP(a) {
		return fmt.Errorf("%w: %s is a link-local or metadata address", errBaseURL, host)
	}
	return nil
}

// blockedIP reports whether a is link-local, a metadata address,
// unspecified or multicast. IPv4-mapped IPv6 is judged as IPv4.
func blockedIP(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	if a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() ||
		a.IsMulticast() || a.IsUnspecified() || !a.IsValid() {
		return true
	}
	for _, b := range blockedAddrs {
		if a == b {
			return true
		}
	}
	return false
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
