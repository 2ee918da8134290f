package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// check refuses flag combinations that would serve something other than
// what was asked.
func (o options) check() error {
	switch {
	case !o.useTLS && (o.caFile != "" || o.certFile != "" || o.clientCA != ""):
		return errors.New("-ca-file, -tls-cert and -client-ca need -tls")
	case (o.certFile == "") != (o.keyFile == ""):
		return errors.New("-tls-cert and -tls-key go together")
	case o.certFile != "" && o.caFile != "":
		return errors.New("-ca-file writes the generated CA: not with -tls-cert")
	}
	return nil
}

// tlsConfig is the server side: the given certificate or one from a
// fresh CA; with -client-ca, client certificates are asked for and
// verified against that CA. They are asked for, not required: the /_sim/
// control endpoints serve clients without one, and a token request
// without one gets the vendor's 401 invalid_client (RFC 8705 2), which
// says more than a failed handshake.
func tlsConfig(o options) (*tls.Config, error) {
	cert, err := serverCert(o)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.clientCA != "" {
		pem, err := os.ReadFile(o.clientCA)
		if err != nil {
			return nil, fmt.Errorf("-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-client-ca %s: no PEM certificate", o.clientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

func serverCert(o options) (tls.Certificate, error) {
	if o.certFile != "" {
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		return cert, nil
	}
	// A fresh CA and a certificate for 127.0.0.1, ::1 and localhost: the
	// PEM written by -ca-file is all a client must trust.
	ca, err := vendorsim.NewTestCA("vendorsim")
	if err != nil {
		return tls.Certificate{}, err
	}
	issued, err := ca.IssueServer()
	if err == nil && o.caFile != "" {
		err = writeFileAtomic(o.caFile, ca.PEM)
	}
	if err != nil {
		return tls.Certificate{}, err
	}
	return issued.TLSCertificate()
}
