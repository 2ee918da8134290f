package oauth

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

func TestRefusedClass(t *testing.T) {
	cases := []struct {
		addr, want string // want: a substring of the class; "" = allowed
	}{
		{"169.254.169.254", "link-local/cloud metadata"},
		{"169.254.170.2", "link-local"}, // ECS task credentials
		{"169.254.0.1", "link-local"},
		{"169.254.255.255", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"febf:ffff::1", "link-local"},
		{"fd00:ec2::254", "AWS instance metadata"},
		{"fd00:ec2::23", "EKS Pod Identity"},
		{"fd20:ce::254", "Google"},
		{"100.100.100.200", "Alibaba"},
		{"192.0.0.192", "Oracle"},
		{"168.63.129.16", "Azure WireServer"},
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"::", "unspecified"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"ff05::fb", "multicast"},
		{"255.255.255.255", "broadcast"},
		// IPv4 carried in IPv6 is judged as the IPv4 it reaches.
		{"::ffff:169.254.169.254", "link-local/cloud metadata"},
		{"::ffff:a9fe:1", "link-local"},
		{"::ffff:100.100.100.200", "Alibaba"},
		{"::ffff:0.0.0.0", "unspecified"},
		{"64:ff9b::169.254.169.254", "169.254.169.254 embedded by NAT64"},
		{"2002:a9fe:a9fe::1", "169.254.169.254 embedded by 6to4"},
		// Loopback: the tests and local proxies.
		{"127.0.0.1", ""},
		{"127.255.0.1", ""},
		{"::1", ""},
		{"::ffff:127.0.0.1", ""},
		// Private ranges: enterprise vendors and proxies.
		{"10.0.0.1", ""},
		{"172.16.0.1", ""},
		{"172.31.255.254", ""},
		{"192.168.1.1", ""},
		{"100.64.0.1", ""},
		{"fc00::1", ""},
		{"fd00:ec2::253", ""},
		{"fd12:3456::1", ""},
		{"::ffff:10.0.0.1", ""},
		{"64:ff9b::10.0.0.1", ""},
		// Public.
		{"93.184.215.14", ""},
		{"169.253.255.255", ""},
		{"169.255.0.0", ""},
		{"2606:4700::1111", ""},
		{"fec0::1", ""}, // site-local, long deprecated; no metadata there
	}
	for _, c := range cases {
		got := RefusedClass(netip.MustParseAddr(c.addr))
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("RefusedClass(%s) = %q, want %q", c.addr, got, c.want)
		}
	}
}

// TestGuardDialFailsClosed: an address the guard cannot read is refused.
func TestGuardDialFailsClosed(t *testing.T) {
	for _, addr := range []string{"169.254.169.254:80", "[::ffff:169.254.169.254]:443", "[fe80::1%eth0]:443", "not-an-address", "10.0.0.1"} {
		var refused *dialRefusedError
		if err := guardDial("tcp4", addr, nil); !errors.As(err, &refused) {
			t.Errorf("guardDial(%q) = %v, want a refusal", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:8200", "[::1]:443", "10.0.0.1:443", "[fd00:ec2::253]:80"} {
		if err := guardDial("tcp", addr, nil); err != nil {
			t.Errorf("guardDial(%q) = %v", addr, err)
		}
	}
}

// fakeDNS answers every A query with a and every AAAA query with aaaa
// (either may be invalid: no record), over net.Pipe: no packet leaves
// the process. It is the DNS-rebinding attacker: a name the operator
// wrote, answered at grant time with whatever address it likes.
func fakeDNS(a, aaaa netip.Addr) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		client, server := net.Pipe()
		go serveDNS(server, a, aaaa)
		return client, nil
	}}
}

// serveDNS answers one query in TCP framing (a net.Pipe is no
// PacketConn, so the Go resolver frames it so).
func serveDNS(c net.Conn, a, aaaa netip.Addr) {
	defer c.Close()
	var n uint16
	if binary.Read(c, binary.BigEndian, &n) != nil {
		return
	}
	q := make([]byte, n)
	if _, err := io.ReadFull(c, q); err != nil || len(q) < 12 {
		return
	}
	end := 12 // the question: labels up to the root, then type and class
	for end < len(q) && q[end] != 0 {
		end += int(q[end]) + 1
	}
	end += 5
	if end > len(q) {
		return
	}
	qtype := binary.BigEndian.Uint16(q[end-4:])
	var rdata []byte
	if ip := map[uint16]netip.Addr{1: a, 28: aaaa}[qtype]; ip.IsValid() {
		rdata = ip.AsSlice()
	}
	resp := append([]byte{}, q[:2]...)          // ID
	resp = append(resp, 0x81, 0x80, 0, 1, 0, 0) // response, RD, RA; 1 question
	if rdata != nil {
		resp[7] = 1 // 1 answer
	}
	resp = append(resp, 0, 0, 0, 0) // no authority, no additional
	resp = append(resp, q[12:end]...)
	if rdata != nil {
		resp = append(resp, 0xc0, 12) // the name: a pointer to the question's
		resp = binary.BigEndian.AppendUint16(resp, qtype)
		resp = append(resp, 0, 1, 0, 0, 0, 60) // class IN, TTL 60
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(rdata)))
		resp = append(resp, rdata...)
	}
	_ = binary.Write(c, binary.BigEndian, uint16(len(resp)))
	_, _ = c.Write(resp)
}

// TestGuardedDialerJudgesResolvedAddress: the check sees the address the
// name resolved to when dialled, not the name, so a name that points at
// the metadata service only at grant time is refused all the same.
func TestGuardedDialerJudgesResolvedAddress(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	none := netip.Addr{}
	for _, c := range []struct {
		name    string
		a, aaaa netip.Addr
		refused string
	}{
		{"A metadata", netip.MustParseAddr("169.254.169.254"), none, "169.254.169.254, a link-local/cloud metadata address"},
		{"A Alibaba", netip.MustParseAddr("100.100.100.200"), none, "Alibaba"},
		{"AAAA IPv4-mapped metadata", none, netip.MustParseAddr("::ffff:169.254.169.254"), "link-local/cloud metadata"},
		{"AAAA AWS IPv6 metadata", none, netip.MustParseAddr("fd00:ec2::254"), "AWS instance metadata"},
		{"A loopback", netip.MustParseAddr("127.0.0.1"), none, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.aaaa.Is6() && !c.aaaa.Is4In6() && !hasIPv6(t) {
				t.Skip("no IPv6 sockets here")
			}
			d := guardedDialer()
			d.Resolver = fakeDNS(c.a, c.aaaa)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn, err := d.DialContext(ctx, "tcp", fmt.Sprintf("rebind.example.:%d", port))
			if c.refused == "" {
				if err != nil {
					t.Fatalf("loopback refused: %v", err)
				}
				conn.Close()
				return
			}
			var refused *dialRefusedError
			if !errors.As(err, &refused) || !strings.Contains(err.Error(), c.refused) {
				if conn != nil {
					conn.Close()
				}
				t.Fatalf("dial = %v, want the guard's refusal naming %q", err, c.refused)
			}
		})
	}
}

func hasIPv6(t *testing.T) bool {
	t.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// TestClientRefusesBeforeConnecting: a client from standaloneClient, with a
// token request for a refused address (write validation bypassed, as for a
// config stored before it existed), fails at once with the guard's error,
// on one attempt, and the 0.0.0.0 case shows nothing connected: Linux
// would deliver it to the loopback listener.
func TestClientRefusesBeforeConnecting(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"t","expires_in":3600}`)
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	cases := []struct {
		url, want string
	}{
		{fmt.Sprintf("http://0.0.0.0:%d/token", port), "0.0.0.0, an unspecified address"},
		{"http://169.254.169.254/latest/meta-data/iam/security-credentials/", "169.254.169.254, a link-local/cloud metadata address"},
		{"https://[::ffff:169.254.169.254]/token", "169.254.169.254, a link-local/cloud metadata address"},
		{"https://100.100.100.200/token", "Alibaba"},
		{"https://224.0.0.1/token", "multicast"},
		{"https://255.255.255.255/token", "broadcast"},
		{"https://[fd00:ec2::254]/token", "fd00:ec2::254, a cloud metadata address"},
		{"https://[fe80::a9fe:a9fe%25lo]/token", "link-local"},
		{fmt.Sprintf("http://[::]:%d/token", port), "unspecified"},
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			if strings.Contains(c.url, "[") && !strings.Contains(c.url, "ffff") && !hasIPv6(t) {
				t.Skip("no IPv6 sockets here")
			}
			cfg := &Config{TokenURL: c.url, ClientID: "id", ClientSecret: "s3cret-value"}
			client, err := standaloneClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer client.HTTPClient.CloseIdleConnections()
			// Dial directly even if the environment names a proxy: this
			// test is about the dialer (TestGuardProxy covers proxies).
			client.HTTPClient.Transport.(*http.Transport).Proxy = nil
			var attempts atomic.Int32
			client.RequestLogHook = func(retryablehttp.Logger, *http.Request, int) { attempts.Add(1) }
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req, err := newTokenRequest(ctx, cfg, clientAuth{}, &bodySource{cfg: cfg, grant: clientCredentialsGrant, now: time.Now})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if resp != nil {
				resp.Body.Close()
			}
			var refused *dialRefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("Do = %v, want the guard's refusal", err)
			}
			if n := attempts.Load(); n != 1 {
				t.Fatalf("%d attempts, want 1 (a refused dial is not retried)", n)
			}
			if hits.Load() != 0 {
				t.Fatal("the loopback listener was reached")
			}
			coded := transportError("corp", err, newRedactor(cfg))
			msg := coded.Error()
			if codedStatus(coded) != http.StatusBadGateway || !strings.Contains(msg, `vendor config "corp": token_url resolves to `) ||
				!strings.Contains(msg, c.want) || !strings.Contains(msg, "the plugin never sends credentials there") {
				t.Fatalf("error %q (status %d), want a 502 naming the config and %q", msg, codedStatus(coded), c.want)
			}
		})
	}
	// The same client still reaches loopback.
	cfg := &Config{TokenURL: srv.URL + "/token"}
	client, err := standaloneClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.HTTPClient.CloseIdleConnections()
	req, err := newTokenRequest(context.Background(), cfg, clientAuth{}, &bodySource{cfg: cfg, grant: clientCredentialsGrant, now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("loopback: %v", err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatalf("loopback listener saw %d requests", hits.Load())
	}
}

// TestGuardProxy: through a proxy the dialer sees only the proxy, so a
// literal refused IP in token_url is refused before the proxy is asked
// to connect; names and allowed IPs go to the proxy as before.
func TestGuardProxy(t *testing.T) {
	proxyURL, _ := url.Parse("http://127.0.0.1:3128")
	viaProxy := guardProxy(func(*http.Request) (*url.URL, error) { return proxyURL, nil })
	direct := guardProxy(func(*http.Request) (*url.URL, error) { return nil, nil })
	for _, c := range []struct {
		target  string
		proxy   func(*http.Request) (*url.URL, error)
		refused bool
	}{
		{"https://169.254.169.254/token", viaProxy, true},
		{"https://[::ffff:169.254.169.254]/token", viaProxy, true},
		{"https://[fd20:ce::254]/token", viaProxy, true},
		{"https://auth.example.com/token", viaProxy, false},
		{"https://10.1.2.3/token", viaProxy, false},
		// Direct: left to the dialer, which sees the target itself.
		{"https://169.254.169.254/token", direct, false},
		{"https://169.254.169.254/token", guardProxy(nil), false},
	} {
		req, _ := http.NewRequest(http.MethodPost, c.target, nil)
		p, err := c.proxy(req)
		var refused *dialRefusedError
		if got := errors.As(err, &refused); got != c.refused {
			t.Errorf("%s: proxy = %v, %v; refused %v, want %v", c.target, p, err, got, c.refused)
		}
		if c.refused && p != nil {
			t.Errorf("%s: refused but still proxied to %s", c.target, p)
		}
	}
}

func TestCheckRetryStopsOnRefusal(t *testing.T) {
	err := &url.Error{Op: "Post", URL: "http://169.254.169.254/", Err: &net.OpError{
		Op: "dial", Net: "tcp4", Err: &dialRefusedError{addr: "169.254.169.254", class: "a link-local/cloud metadata address"},
	}}
	if retry, _ := checkRetry(context.Background(), nil, err); retry {
		t.Fatal("a refused dial is retried")
	}
	// Other connection errors still are.
	other := &url.Error{Op: "Post", URL: "http://127.0.0.1:1/", Err: &net.OpError{Op: "dial", Net: "tcp4", Err: errors.New("connection refused")}}
	if retry, _ := checkRetry(context.Background(), nil, other); !retry {
		t.Fatal("a refused connection is no longer retried")
	}
}
