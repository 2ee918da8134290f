// Package testkit is test-only helpers shared by the root package's,
// internal/oauth's and internal/vendorsim's tests: keys, certificates and
// token answers each of them would otherwise write out again. Nothing
// outside a _test.go file imports it. It imports only the standard library.
package testkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// CAPEM is a new self-signed CA certificate, PEM (httptest's servers all
// share one).
func CAPEM(t testing.TB) string {
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

// RSAKeyPEM is a new RSA key of bits bits and its PEM: PKCS#1 ("RSA PRIVATE
// KEY") if pkcs1, else PKCS#8 ("PRIVATE KEY").
func RSAKeyPEM(t testing.TB, bits int, pkcs1 bool) (*rsa.PrivateKey, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	if pkcs1 {
		return k, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// ECKey is a new ECDSA key on curve.
func ECKey(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// ECKeyPEM is a new ECDSA key on curve and its PEM: SEC 1 ("EC PRIVATE
// KEY") if sec1, else PKCS#8 ("PRIVATE KEY").
func ECKeyPEM(t testing.TB, curve elliptic.Curve, sec1 bool) (*ecdsa.PrivateKey, string) {
	t.Helper()
	k := ECKey(t, curve)
	if sec1 {
		der, _ := x509.MarshalECPrivateKey(k)
		return k, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// SelfSigned is a certificate for key, PEM, self-signed, with common name
// cn, valid from an hour ago to an hour from now.
func SelfSigned(t testing.TB, key crypto.Signer, cn string) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// SecretPart is in every hostile token of the answer tests: no error may
// show it.
const SecretPart = "SECRETPART0123456789"

// AnswerBody is a token answer with the given members, JSON-encoded so that
// control characters travel as JSON escapes, as a real vendor would send them.
func AnswerBody(t testing.TB, members map[string]interface{}) []byte {
	t.Helper()
	body, err := json.Marshal(members)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// JWTWithRawExp is an unsigned-looking RS256 JWT whose payload's exp member
// is raw, written as is (so it may be any JSON, or none), and whose
// signature part is sig.
func JWTWithRawExp(raw, sig string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." +
		enc([]byte(`{"sub":"c","exp":`+raw+`}`)) + "." + enc([]byte(sig))
}
