package vendorsim

import (
	"crypto/x509"
	"net/http"
)

// SetMTLS turns the mTLS mode on or off (RFC 8705). In it, every vendor
// that authenticates clients wants a client certificate on the TLS
// connection, verified against the CA the listener trusts (cmd/vendorsim
// -client-ca; the TLS layer checks the chain), whose subject CN is the
// request's client_id: the "registered subject" of RFC 8705 2.1.2. A
// request carrying client_id without a secret is tls_client_auth (2.1):
// the certificate alone authenticates it. One carrying a secret as well
// must pass both checks (mTLS beside client_secret_post or _basic).
// Failures answer 401 invalid_client, as RFC 8705 2 says.
func (s *Sim) SetMTLS(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mtls = on
}

// verifiedClientCert is the client's leaf certificate if the TLS layer
// verified its chain; nil over plain HTTP or without one.
func verifiedClientCert(r *http.Request) *x509.Certificate {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
		return nil
	}
	return r.TLS.PeerCertificates[0]
}

// checkClientCert binds the certificate to the claimed client, and marks a
// secret-less request as authenticated by it.
func checkClientCert(r *http.Request, client *clientAuth) *apiError {
	cert := verifiedClientCert(r)
	if cert == nil {
		return &apiError{status: http.StatusUnauthorized, code: "invalid_client",
			desc: "client certificate required (RFC 8705 mutual TLS)"}
	}
	if client.id == "" || cert.Subject.CommonName != client.id {
		return &apiError{status: http.StatusUnauthorized, code: "invalid_client",
			desc: "client certificate subject does not match client_id"}
	}
	client.viaCert = client.secret == "" && !client.viaBasic
	return nil
}
