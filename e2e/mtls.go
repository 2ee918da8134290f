//go:build e2e

package e2e

import (
	"crypto/tls"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testproc"
)

// mtlsSim is a second simulator process in mTLS mode (cmd/vendorsim
// -client-ca): HTTPS with a server certificate from ca, token endpoints
// that want a client certificate from ca whose CN is the client_id.
type mtlsSim struct {
	*simClient
	ca *testCA
}

// startMTLSSim runs it until the test ends; its log is mtls-<test>.log in
// the work dir.
func startMTLSSim(t *testing.T) *mtlsSim {
	t.Helper()
	ca := newTestCA(t)
	caFile, certFile, keyFile := ca.files(t)
	bin, err := filepath.Abs(envOr("VENDORSIM_BIN", filepath.Join("..", "bin", "vendorsim")))
	if err != nil {
		t.Fatal(err)
	}
	base := "mtls-" + safeName(t.Name())
	addrFile := filepath.Join(env.dir, base+".addr")
	p, err := testproc.Start(env.dir, base+".log", bin, "-tls", "-tls-cert", certFile, "-tls-key", keyFile,
		"-client-ca", caFile, "-addr-file", addrFile)
	if err != nil {
		t.Fatalf("vendorsim -client-ca: %v", err)
	}
	t.Cleanup(func() { p.StopWithin(5 * time.Second) })
	url, err := p.WaitFile(addrFile, 20*time.Second)
	if err != nil {
		printTail(filepath.Join(env.dir, base+".log"), 30)
		t.Fatalf("vendorsim -client-ca: %v", err)
	}
	// The control endpoints ask for no client certificate; the test
	// trusts the CA as the plugin does through ca_cert.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
	return &mtlsSim{simClient: &simClient{base: url, http: client}, ca: ca}
}
