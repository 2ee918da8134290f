package main

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

func TestOptionsCheck(t *testing.T) {
	cases := []struct {
		name string
		o    options
		ok   bool
	}{
		{"plain", options{}, true},
		{"tls", options{useTLS: true}, true},
		{"tls with a ca file", options{useTLS: true, caFile: "ca.pem"}, true},
		{"given certificate and client CA", options{useTLS: true, certFile: "c", keyFile: "k", clientCA: "ca"}, true},
		{"client CA without tls", options{clientCA: "ca"}, false},
		{"certificate without tls", options{certFile: "c", keyFile: "k"}, false},
		{"certificate without key", options{useTLS: true, certFile: "c"}, false},
		{"ca file with a given certificate", options{useTLS: true, certFile: "c", keyFile: "k", caFile: "ca"}, false},
	}
	for _, c := range cases {
		if err := c.o.check(); (err == nil) != c.ok {
			t.Errorf("%s: check() = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

// -client-ca asks for client certificates from that CA, without requiring
// one at the handshake (the /_sim/ endpoints serve clients without one).
func TestTLSConfigClientCA(t *testing.T) {
	ca, err := vendorsim.NewTestCA("test")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.IssueServer()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o := options{useTLS: true, certFile: filepath.Join(dir, "c.pem"), keyFile: filepath.Join(dir, "k.pem"), clientCA: filepath.Join(dir, "ca.pem")}
	for path, data := range map[string][]byte{o.certFile: srv.CertPEM, o.keyFile: srv.KeyPEM, o.clientCA: ca.PEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := tlsConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.VerifyClientCertIfGiven || cfg.ClientCAs == nil || len(cfg.Certificates) != 1 {
		t.Fatalf("tls config: ClientAuth %v, ClientCAs %v, %d certificates", cfg.ClientAuth, cfg.ClientCAs != nil, len(cfg.Certificates))
	}
	if err := os.WriteFile(o.clientCA, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsConfig(o); err == nil {
		t.Fatal("a -client-ca without a certificate was accepted")
	}
}
