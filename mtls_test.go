package oauthvendor

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// clientCA issues client certificates for the mTLS tests: the
// simulator's test CA (internal/vendorsim), made at run time.
type clientCA struct{ *vendorsim.TestCA }

func newClientCA(t *testing.T) *clientCA {
	t.Helper()
	ca, err := vendorsim.NewTestCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	return &clientCA{ca}
}

// issue returns a client certificate for cn and its key, both PEM.
func (ca *clientCA) issue(t *testing.T, cn string) (string, string) {
	t.Helper()
	c, err := ca.IssueClient(cn)
	if err != nil {
		t.Fatal(err)
	}
	return string(c.CertPEM), string(c.KeyPEM)
}

// mtlsServer is a token endpoint that requires a client certificate of ca
// and, as RFC 8705 2.1's tls_client_auth, takes the client as the
// certificate's subject when it equals client_id.
type mtlsServer struct {
	*httptest.Server
	mu    sync.Mutex
	forms []url.Values
}

func newMTLSServer(t *testing.T, ca *clientCA) *mtlsServer {
	m := &mtlsServer{}
	m.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		m.mu.Lock()
		m.forms = append(m.forms, r.PostForm)
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/.well-known/openid-configuration" {
			_ = json.NewEncoder(w).Encode(map[string]interface{}{
				"issuer": m.URL, "token_endpoint": m.URL + "/plain-token", "token_endpoint_auth_methods_supported": []string{"tls_client_auth"},
				"mtls_endpoint_aliases": map[string]string{"token_endpoint": m.URL + "/token"},
			})
			return
		}
		certs := r.TLS.PeerCertificates
		if len(certs) == 0 || certs[0].Subject.CommonName != r.PostForm.Get("client_id") {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"certificate subject is not client_id"}`))
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"mtls-token-` + certs[0].Subject.CommonName + `","token_type":"Bearer","expires_in":3600}`))
	}))
	m.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool()}
	m.StartTLS()
	t.Cleanup(m.Close)
	return m
}

func (m *mtlsServer) caPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.Certificate().Raw}))
}

func (m *mtlsServer) lastForm() url.Values {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.forms[len(m.forms)-1]
}

// TestTLSClientAuth: the certificate is presented on the handshake and the
// body carries client_id alone; a certificate of another subject is the
// vendor's invalid_client; mTLS works beside client_auth=body too.
func TestTLSClientAuth(t *testing.T) {
	ca := newClientCA(t)
	srv := newMTLSServer(t, ca)
	cert, key := ca.issue(t, "svc-a")
	env := newTestEnv(t)
	env.write("config/m", map[string]interface{}{
		"token_url": srv.URL + "/token", "ca_cert": srv.caPEM(), "client_id": "svc-a",
		"client_auth": "tls_client_auth", "tls_client_cert": cert, "tls_client_key": key,
	})
	if tok := env.read("creds/m").Data["access_token"]; tok != "mtls-token-svc-a" {
		t.Fatalf("creds %v", tok)
	}
	if form := srv.lastForm(); len(form) != 2 || form.Get("client_id") != "svc-a" || form.Get("grant_type") != "client_credentials" {
		t.Fatalf("tls_client_auth body %v, want client_id and grant_type alone", form)
	}
	read := env.read("config/m").Data
	if read["tls_client_key_set"] != true || read["tls_client_cert"] != cert {
		t.Fatalf("read %v", read)
	}
	if _, ok := read["tls_client_key"]; ok {
		t.Fatal("read returned tls_client_key")
	}

	other, otherKey := ca.issue(t, "svc-b")
	env.write("config/wrong", map[string]interface{}{
		"token_url": srv.URL + "/token", "ca_cert": srv.caPEM(), "client_id": "svc-a",
		"client_auth": "tls_client_auth", "tls_client_cert": other, "tls_client_key": otherKey,
	})
	_, err := env.do(logical.ReadOperation, "creds/wrong", nil)
	if codedStatus(err) != http.StatusBadGateway || !strings.Contains(err.Error(), "invalid_client") || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong subject: %v", err)
	}

	env.write("config/both", map[string]interface{}{
		"token_url": srv.URL + "/token", "ca_cert": srv.caPEM(), "client_id": "svc-a", "client_secret": "s3cret-value",
		"tls_client_cert": cert, "tls_client_key": key,
	})
	env.read("creds/both")
	if form := srv.lastForm(); form.Get("client_secret") != "s3cret-value" {
		t.Fatalf("mTLS with client_auth=body lost the body credentials: %v", form)
	}
	if strings.Contains(env.logs.String(), strings.TrimSpace(strings.Split(key, "\n")[1])) {
		t.Fatal("the log holds the TLS client key")
	}
}

// TestDiscoveryMTLSAlias: with a client certificate, discovery takes the
// RFC 8705 5 alias of the token endpoint.
func TestDiscoveryMTLSAlias(t *testing.T) {
	ca := newClientCA(t)
	srv := newMTLSServer(t, ca)
	cert, key := ca.issue(t, "svc-a")
	env := newTestEnv(t)
	env.write("config/m", map[string]interface{}{
		"issuer": srv.URL, "ca_cert": srv.caPEM(), "client_id": "svc-a",
		"client_auth": "tls_client_auth", "tls_client_cert": cert, "tls_client_key": key,
	})
	if got := env.read("config/m").Data["token_url"]; got != srv.URL+"/token" {
		t.Fatalf("token_url %v, want the mTLS alias", got)
	}
}
