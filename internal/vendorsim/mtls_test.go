package vendorsim

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

// newMTLSSim serves a Sim in mTLS mode over real TLS: the server
// certificate and the trusted client CA both from a fresh test CA, client
// certificates asked for and verified, as cmd/vendorsim -client-ca does.
func newMTLSSim(t *testing.T) (*httptest.Server, *TestCA) {
	t.Helper()
	ca := mustCA(t)
	serverCert, err := mustIssue(t, ca.IssueServer).TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	sim := New()
	sim.SetMTLS(true)
	srv := httptest.NewUnstartedServer(sim)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: ca.Pool(),
		ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, ca
}

func mustCA(t *testing.T) *TestCA {
	t.Helper()
	ca, err := NewTestCA("vendorsim test CA")
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func mustIssue(t *testing.T, issue func() (Issued, error)) Issued {
	t.Helper()
	i, err := issue()
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// mtlsClient trusts ca for the server and presents cert (none when nil).
func mtlsClient(t *testing.T, ca *TestCA, cert *Issued) *http.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	if cert != nil {
		pair, err := cert.TLSCertificate()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}

func clientCert(t *testing.T, ca *TestCA, cn string) *Issued {
	t.Helper()
	i := mustIssue(t, func() (Issued, error) { return ca.IssueClient(cn) })
	return &i
}

func TestMTLSTokenRequests(t *testing.T) {
	srv, ca := newMTLSSim(t)
	c := DefaultCredentials(AgentSync)
	otherCA := mustCA(t)

	// RFC 8705 2.1 tls_client_auth: client_id alone in the body.
	certOnly := goodTokenReq(AgentSync, c)
	delete(certOnly.params, "client_secret")
	wrongSecret := goodTokenReq(AgentSync, c)
	wrongSecret.params["client_secret"] = "not-the-secret"
	noClientID := goodTokenReq(AgentSync, c)
	delete(noClientID.params, "client_id")
	delete(noClientID.params, "client_secret")
	basic := goodTokenReq(AgentSync, c)
	delete(basic.params, "client_id")
	delete(basic.params, "client_secret")
	basic.basic = &[2]string{c.ClientID, c.ClientSecret}

	cases := []struct {
		name   string
		cert   *Issued
		req    tokenReq
		status int
		desc   string
	}{
		{"tls_client_auth", clientCert(t, ca, c.ClientID), certOnly, http.StatusOK, ""},
		{"mtls with client_secret_post", clientCert(t, ca, c.ClientID), goodTokenReq(AgentSync, c), http.StatusOK, ""},
		{"mtls with client_secret_basic", clientCert(t, ca, c.ClientID), basic, http.StatusOK, ""},
		{"mtls and a wrong secret", clientCert(t, ca, c.ClientID), wrongSecret, http.StatusUnauthorized, "client authentication failed"},
		{"wrong CN", clientCert(t, ca, "someone-else"), certOnly, http.StatusUnauthorized, "client certificate subject does not match client_id"},
		{"no client_id", clientCert(t, ca, c.ClientID), noClientID, http.StatusUnauthorized, "client certificate subject does not match client_id"},
		{"no certificate", nil, certOnly, http.StatusUnauthorized, "client certificate required (RFC 8705 mutual TLS)"},
		{"no certificate, secret right", nil, goodTokenReq(AgentSync, c), http.StatusUnauthorized, "client certificate required (RFC 8705 mutual TLS)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, mtlsClient(t, ca, tc.cert), tc.req.build(t, srv.URL))
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if tc.status == http.StatusOK {
				tokenOf(t, AgentSync, a.body)
				return
			}
			if got := errorText(t, AgentSync, tc.status, "invalid_client", a.body); got != tc.desc {
				t.Errorf("error_description %q, want %q", got, tc.desc)
			}
		})
	}

	// A certificate from another CA never reaches the handler: the TLS
	// layer refuses the chain.
	t.Run("other CA", func(t *testing.T) {
		_, err := mtlsClient(t, ca, clientCert(t, otherCA, c.ClientID)).Do(certOnly.build(t, srv.URL))
		if err == nil {
			t.Fatal("a client certificate from an untrusted CA was accepted")
		}
	})
}

// Without the mode, a request without a secret is what it always was.
func TestMTLSOffNeedsTheSecret(t *testing.T) {
	_, srv, _ := newTestSim(t)
	c := DefaultCredentials(AgentSync)
	req := goodTokenReq(AgentSync, c)
	delete(req.params, "client_secret")
	a := do(t, http.DefaultClient, req.build(t, srv.URL))
	if a.status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400: %s", a.status, a.body)
	}
	if got := errorText(t, AgentSync, a.status, "invalid_request", a.body); got != "missing parameter client_secret" {
		t.Errorf("error_description %q", got)
	}
}

// Vendors that authenticate no client (AlertSite's plain login) are not
// asked for a certificate.
func TestMTLSLeavesUserLoginsAlone(t *testing.T) {
	srv, ca := newMTLSSim(t)
	a := do(t, mtlsClient(t, ca, nil), goodTokenReq(AlertSite, DefaultCredentials(AlertSite)).build(t, srv.URL))
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
}
