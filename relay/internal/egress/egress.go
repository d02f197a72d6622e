// Package egress decides which network destinations the relay may call
// when an admin chose them: the AI upstream, the admin page's AI test, and
// any later outbound call of the same kind (webhooks). An admin-entered URL
// must not turn the relay into a way to reach the cloud's metadata service
// (which hands out credentials) or to probe the relay's own network.
//
// The same Policy checks a URL when it is entered and every address
// actually dialled, after DNS (a name may resolve to anything, and again
// differently later): use Policy.Control as the net.Dialer's Control.
package egress

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// ErrRefused matches every *RefusedError.
var ErrRefused = errors.New("destination not allowed")

// RefusedError says which destination a Policy refused and why, in words
// an admin can act on. It holds nothing the destination sent.
type RefusedError struct {
	Host   string // the host name or address as given
	Reason string // "a private address", "a cloud metadata host", …
	// Private is true when AllowPrivate would have let it through.
	Private bool
}

// Error reads "10.0.0.5 is a private address": callers say what was
// refused ("base URL not allowed: …").
func (e *RefusedError) Error() string {
	return e.Host + " is " + e.Reason
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Policy is a set of allowed destinations. The zero Policy allows public
// addresses only.
type Policy struct {
	// AllowPrivate also allows loopback, private networks (RFC 1918, IPv6
	// unique local, carrier-grade NAT) and the other special-purpose
	// ranges a LAN may use. Cloud metadata, link-local, unspecified and
	// multicast addresses are refused whatever it says.
	AllowPrivate bool
}

// metadataNames are cloud metadata services' host names.
var metadataNames = []string{"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"}

// metadataAddrs are metadata addresses outside the link-local ranges.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("fd00:ec2::254"),   // AWS IMDS over IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud metadata
}

// special lists what is not the public internet beyond what netip's Is*
// methods tell apart: each prefix with the words an admin reads.
var special = []struct {
	p      netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a reserved address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a private address (carrier-grade NAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "a reserved address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("100::/64"), "a discard address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("2001::/23"), "a reserved address"},
}

// CheckAddr checks one address.
func (p Policy) CheckAddr(a netip.Addr) error {
	return p.check(a.String(), a)
}

func (p Policy) check(host string, a netip.Addr) error {
	reason, private := classify(a)
	if reason == "" || (private && p.AllowPrivate) {
		return nil
	}
	return &RefusedError{Host: host, Reason: reason, Private: private}
}

// classify says what a is when it is not a public unicast address ("" when
// it is), and whether AllowPrivate lets it through.
func classify(a netip.Addr) (reason string, private bool) {
	if !a.IsValid() {
		return "not an address", false
	}
	a = a.WithZone("")
	// An IPv4 address inside IPv6 (mapped, NAT64, 6to4) is judged as IPv4.
	if v4, ok := embeddedV4(a); ok {
		a = v4
	}
	for _, m := range metadataAddrs {
		if a == m {
			return "a cloud metadata address", false
		}
	}
	switch {
	case a.IsLinkLocalUnicast():
		return "a link-local or cloud metadata address", false
	case a.IsUnspecified():
		return "an unspecified address", false
	case a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return "a multicast address", false
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the broadcast address", false
	case a.IsLoopback():
		return "a loopback address", true
	case a.IsPrivate():
		return "a private address", true
	}
	for _, s := range special {
		if s.p.Contains(a) {
			return s.reason, true
		}
	}
	return "", false
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// embeddedV4 returns the IPv4 address an IPv6 address stands for, if any.
func embeddedV4(a netip.Addr) (netip.Addr, bool) {
	if a.Is4In6() {
		return a.Unmap(), true
	}
	b := a.As16()
	switch {
	case !a.Is6():
		return netip.Addr{}, false
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// CheckHost checks a host name or address literal as written in a URL.
// A name is checked only against the names it cannot be allowed to be
// (metadata services, localhost); what it resolves to is checked when
// dialled (Control).
func (p Policy) CheckHost(host string) error {
	h := strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if a, err := netip.ParseAddr(h); err == nil {
		return p.check(host, a)
	}
	for _, n := range metadataNames {
		if h == n {
			return &RefusedError{Host: host, Reason: "a cloud metadata host"}
		}
	}
	if !p.AllowPrivate && (h == "localhost" || strings.HasSuffix(h, ".localhost")) {
		return &RefusedError{Host: host, Reason: "a loopback name", Private: true}
	}
	return nil
}

// CheckURL parses raw and checks it is an http(s) URL with a host the
// policy allows and no credentials in it.
func (p Policy) CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%w: scheme %q (want http or https)", ErrRefused, u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%w: no host", ErrRefused)
	case u.User != nil:
		return nil, fmt.Errorf("%w: credentials in the URL", ErrRefused)
	}
	if err := p.CheckHost(u.Hostname()); err != nil {
		return nil, err
	}
	return u, nil
}

// Control checks every address a net.Dialer connects to, after DNS: set
// it as the Dialer's Control.
func (p Policy) Control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: dialled %q, not an address", ErrRefused, host)
	}
	return p.check(host, a)
}
