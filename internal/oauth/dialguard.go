package oauth

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// The dial guard: the token request POSTs credentials to whatever
// token_url a config names, so a config (or a DNS answer for its host)
// must not be able to point it at the machine's own credential services.
// The check runs in the dialer's Control hook, on the address actually
// being connected to, after DNS: a name that resolves to a public address
// at write time and to 169.254.169.254 at grant time (DNS rebinding) is
// still refused, and before any packet leaves.
//
// Refused: link-local (169.254.0.0/16, fe80::/10: every cloud's metadata
// and credential endpoints live there, and nothing an OAuth vendor runs
// does), the cloud metadata and host-agent addresses outside link-local
// (metadataAddrs), unspecified (0.0.0.0/8, ::: Linux connects 0.0.0.0 to
// the local host, a loopback that write validation never saw), multicast
// and the limited broadcast 255.255.255.255. IPv4 carried in IPv6 (mapped
// ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16) is judged by the
// IPv4 address it reaches.
//
// Allowed on purpose:
//   - loopback (127.0.0.0/8, ::1): the tests and local egress proxies
//     listen there; http is allowed only there (validateTokenURL).
//   - private ranges (10/8, 172.16/12, 192.168/16, 100.64/10 except
//     Alibaba's metadata address, fc00::/7 except the metadata addresses):
//     enterprise vendors, API gateways and proxies live there, and an
//     operator who can write a config can already name any of them.
//
// Not covered: a subnet's directed broadcast (needs the interface's mask;
// TCP to it fails anyway), operator-chosen NAT64 prefixes, and names
// resolved by an HTTP proxy (HTTPS_PROXY in Vault's environment): the
// dialer then connects to the proxy, so guardProxy can judge only a
// literal IP in token_url, and egress policy for names is the proxy's.

// metadataAddrs are instance-metadata and host-agent endpoints, which
// hand the machine's own cloud credentials to whoever asks from it.
// 169.254.169.254 is link-local anyway; it is listed for its message.
var metadataAddrs = map[netip.Addr]string{
	// AWS, GCP, Azure, Oracle Cloud, OpenStack, DigitalOcean.
	netip.MustParseAddr("169.254.169.254"): "a link-local/cloud metadata address",
	netip.MustParseAddr("fd00:ec2::254"):   "a cloud metadata address (AWS instance metadata over IPv6)",
	netip.MustParseAddr("fd00:ec2::23"):    "a cloud metadata address (AWS EKS Pod Identity over IPv6)",
	netip.MustParseAddr("fd20:ce::254"):    "a cloud metadata address (Google Compute Engine metadata over IPv6)",
	// In 100.64.0.0/10 (carrier-grade NAT), which stays allowed: Tailscale
	// and some enterprise networks number hosts there.
	netip.MustParseAddr("100.100.100.200"): "a cloud metadata address (Alibaba Cloud)",
	netip.MustParseAddr("192.0.0.192"):     "a cloud metadata address (Oracle Cloud Classic)",
	// Azure's WireServer serves VM extension settings and, on AKS, node
	// bootstrap credentials; no vendor is reachable through it.
	netip.MustParseAddr("168.63.129.16"): "a cloud host-agent address (Azure WireServer)",
}

var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	broadcast   = netip.MustParseAddr("255.255.255.255")
	nat64       = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// RefusedClass names why the token request must not connect to ip, as it
// reads after "is" or a comma ("a link-local address"); "" when it may.
func RefusedClass(ip netip.Addr) string {
	ip = ip.Unmap()
	if v4, how, ok := embeddedIPv4(ip); ok {
		if class := RefusedClass(v4); class != "" {
			return fmt.Sprintf("%s (%s embedded by %s)", class, v4, how)
		}
		return ""
	}
	if class, ok := metadataAddrs[ip.WithZone("")]; ok {
		return class
	}
	switch {
	case ip.IsUnspecified() || thisNetwork.Contains(ip):
		return "an unspecified address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address"
	case ip.IsMulticast():
		return "a multicast address"
	case ip == broadcast:
		return "a broadcast address"
	}
	return ""
}

// embeddedIPv4 is the IPv4 address a NAT64 or 6to4 address delivers to:
// a gateway on the path translates it, so the IPv6 form must not be a way
// around the IPv4 policy.
func embeddedIPv4(ip netip.Addr) (netip.Addr, string, bool) {
	b := ip.As16()
	switch {
	case !ip.Is6():
		return netip.Addr{}, "", false
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), "NAT64", true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), "6to4", true
	}
	return netip.Addr{}, "", false
}

// dialRefusedError is the guard's refusal. checkRetry never retries it (the
// next attempt would dial the same address) and transportError turns it
// into a 502 naming the config and the address class.
type dialRefusedError struct {
	addr  string
	class string
}

func (e *dialRefusedError) Error() string {
	return fmt.Sprintf("refused to connect to %s, %s", e.addr, e.class)
}

// guardedDialer is cleanhttp's dialer (same timeouts) with the guard.
func guardedDialer() *net.Dialer {
	return &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: guardDial}
}

// guardDial runs after the socket is made and before it connects, once per
// address the dialer tries: a name with a refused and an allowed address
// still connects, to the allowed one.
func guardDial(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// The dialer always passes a resolved ip:port; anything else is a
		// dialer this guard does not understand, so it fails closed.
		return &dialRefusedError{addr: address, class: "an address the dial guard cannot read"}
	}
	if class := RefusedClass(ap.Addr()); class != "" {
		return &dialRefusedError{addr: ap.Addr().String(), class: class}
	}
	return nil
}

// guardProxy wraps the transport's proxy choice: through a proxy the dialer
// sees only the proxy's address, so a literal IP in token_url (stored
// before write validation refused it) is judged here instead.
func guardProxy(proxy func(*http.Request) (*url.URL, error)) func(*http.Request) (*url.URL, error) {
	return func(req *http.Request) (*url.URL, error) {
		if proxy == nil {
			return nil, nil
		}
		p, err := proxy(req)
		if err != nil || p == nil {
			return p, err
		}
		if ip, perr := netip.ParseAddr(req.URL.Hostname()); perr == nil {
			if class := RefusedClass(ip); class != "" {
				return nil, &dialRefusedError{addr: ip.String(), class: class}
			}
		}
		return p, nil
	}
}
