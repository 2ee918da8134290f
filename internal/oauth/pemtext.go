package oauth

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// CertificatesOnly parses a readable PEM field (ca_cert, certificate,
// tls_client_cert): CERTIFICATE blocks and white space, nothing else. A
// bundle pasted whole (certificate then key, as many tools write one
// file) would otherwise be stored as written and shown by every read with
// its private key inside: crypto/tls and pem.Decode skip what they do not
// need, they do not refuse it.
func CertificatesOnly(text string) ([]*x509.Certificate, error) {
	rest := []byte(text)
	var certs []*x509.Certificate
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 {
			break
		}
		if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			return nil, errors.New("holds text outside PEM blocks; give CERTIFICATE blocks only")
		}
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("has a PEM block that does not parse")
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) > 0 {
			// Never quoted beyond its type: the block may be a key.
			return nil, fmt.Errorf("has a %s PEM block; only CERTIFICATE blocks belong here (a key goes in its write-only field)", Quote(block.Type))
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate does not parse: %v", err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	return certs, nil
}
