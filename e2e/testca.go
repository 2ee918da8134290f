//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// testCA is a CA made for one test (vendorsim.TestCA), with its files in
// a test temp dir: the mTLS simulator reads them by flag.
type testCA struct {
	*vendorsim.TestCA
	dir string
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	ca, err := vendorsim.NewTestCA("oauthvendor e2e CA")
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{TestCA: ca, dir: t.TempDir()}
}

// clientCert signs a client certificate with subject CN cn. Its key is
// write-only in the plugin (tls_client_key): the leak scans look for it.
func (ca *testCA) clientCert(t *testing.T, cn string) vendorsim.Issued {
	t.Helper()
	c, err := ca.IssueClient(cn)
	if err != nil {
		t.Fatal(err)
	}
	addKeySecret(t, "tls_client_key for CN "+cn, string(c.KeyPEM))
	return c
}

// files writes the CA certificate and a server certificate for 127.0.0.1
// and returns their paths.
func (ca *testCA) files(t *testing.T) (caFile, certFile, keyFile string) {
	t.Helper()
	srv, err := ca.IssueServer()
	if err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile = filepath.Join(ca.dir, "ca.pem"), filepath.Join(ca.dir, "server.pem"), filepath.Join(ca.dir, "server-key.pem")
	for path, data := range map[string][]byte{caFile: ca.PEM, certFile: srv.CertPEM, keyFile: srv.KeyPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return caFile, certFile, keyFile
}
