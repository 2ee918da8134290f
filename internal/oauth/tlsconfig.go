package oauth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// tlsConfigFor is the TLS side of a config's connection to its token
// endpoint: the extra CA (ca_cert) and the client certificate presented
// on the handshake (RFC 8705 2: tls_client_auth, or mTLS beside any other
// client_auth). nil when the config needs neither.
func tlsConfigFor(cfg *Config) (*tls.Config, error) {
	if cfg.CACert == "" && cfg.TLSClientCert == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CACert != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(cfg.CACert)) {
			return nil, fmt.Errorf("ca_cert: no usable certificate")
		}
		tc.RootCAs = pool
	}
	if cfg.TLSClientCert != "" {
		pair, err := ClientKeyPair(cfg.TLSClientCert, cfg.TLSClientKey)
		if err != nil {
			return nil, err
		}
		// Always present it: with Certificates, crypto/tls sends nothing
		// when the server's CertificateRequest names CAs the chain does not
		// show (a leaf given without its intermediates), and every grant
		// would fail as an anonymous client.
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	return tc, nil
}

// ClientKeyPair checks that tls_client_key is the key of tls_client_cert.
// crypto/tls's messages name what is wrong ("private key does not match
// public key", "failed to find any PEM data"), never key bytes.
func ClientKeyPair(certPEM, keyPEM string) (tls.Certificate, error) {
	if keyPEM == "" {
		return tls.Certificate{}, errors.New("tls_client_key: required with tls_client_cert")
	}
	if _, err := CertificatesOnly(certPEM); err != nil {
		return tls.Certificate{}, fmt.Errorf("tls_client_cert: %w", err)
	}
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls_client_key: does not match tls_client_cert or does not parse: %s", err.Error())
	}
	return pair, nil
}
