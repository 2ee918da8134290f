package oauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"github.com/hashicorp/go-retryablehttp"
	"math/big"
	"strings"
	"testing"
	"time"
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
	ca := caPEM(t)
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

// caPEM is a new self-signed CA certificate (httptest's servers all share
// one).
func caPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// codedStatus is the HTTP status an *Error reports to a gateway's caller.
func codedStatus(e *Error) int { return e.GatewayStatus() }
