package oauth

import (
	"crypto/x509"
	"encoding/pem"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testkit"
	"strings"
	"testing"
)

// standaloneClient is a config's client over a transport of its own, for
// tests that adjust the transport (no proxy, no header cap).
func standaloneClient(cfg *Config) (*retryablehttp.Client, error) {
	tr, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	return newHTTPClient(tr, nil), nil
}

// TestSharedTransportKeepsItsGuards: the shared transport keeps every
// protection of the per-config one, and caps idle connections per host.
func TestSharedTransportKeepsItsGuards(t *testing.T) {
	ca := testkit.CAPEM(t)
	tr, err := newTransport(&Config{CACert: ca})
	if err != nil {
		t.Fatal(err)
	}
	if tr.MaxResponseHeaderBytes != maxResponseHeaderBytes || tr.MaxIdleConnsPerHost != maxIdleConnsPerHost ||
		tr.MaxConnsPerHost != 0 || tr.DialContext == nil || tr.Proxy == nil {
		t.Fatalf("transport settings: %+v", tr)
	}
	if tr.TLSClientConfig == nil || tr.TLSClientConfig.RootCAs == nil {
		t.Fatal("ca_cert not in the transport")
	}
	block, _ := pem.Decode([]byte(ca))
	cert, _ := x509.ParseCertificate(block.Bytes)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: tr.TLSClientConfig.RootCAs}); err != nil {
		t.Fatalf("the CA is not trusted: %v", err)
	}
	if _, _, err := NewPool().acquire(&Config{CACert: "not a pem"}); err == nil || !strings.Contains(err.Error(), "ca_cert") {
		t.Fatalf("a bad CA: %v", err)
	}
}

// codedStatus is the HTTP status an *Error reports to a gateway's caller.
func codedStatus(e *Error) int { return e.GatewayStatus() }
