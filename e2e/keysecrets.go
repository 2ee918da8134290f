//go:build e2e

package e2e

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
)

// addKeySecret registers a private key (PEM: PKCS#8, PKCS#1 or SEC1) for
// the leak scans: the PEM whole (raw and JSON-escaped), its base64 body,
// and each private value (RSA d p q dp dq qi, EC d) as a JWK has it
// (base64url), as base64 and as hex. Not the PEM's fragments, as
// addSecret takes: a private key's encoding holds its public half (RSA n,
// the EC point), which jwks/<name> and tls_client_cert show by design.
func addKeySecret(t testing.TB, label, keyPEM string) {
	t.Helper()
	block, _ := pem.Decode([]byte(keyPEM))
	if block == nil {
		t.Fatalf("%s: not PEM", label)
	}
	forms := []string{keyPEM, jsonEscape(keyPEM, true), jsonEscape(keyPEM, false),
		base64.StdEncoding.EncodeToString(block.Bytes)}
	for _, v := range privateValues(t, label, block) {
		b := v.Bytes()
		forms = append(forms, base64.RawURLEncoding.EncodeToString(b), base64.StdEncoding.EncodeToString(b), hex.EncodeToString(b))
	}
	madeUp.Lock()
	defer madeUp.Unlock()
	madeUp.list = append(madeUp.list, secret{label: label, forms: dedupe(forms)})
}

func privateValues(t testing.TB, label string, block *pem.Block) []*big.Int {
	t.Helper()
	var key any
	var err error
	switch {
	case strings.HasPrefix(block.Type, "RSA"):
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case strings.HasPrefix(block.Type, "EC"):
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return []*big.Int{k.D, k.Primes[0], k.Primes[1], k.Precomputed.Dp, k.Precomputed.Dq, k.Precomputed.Qinv}
	case *ecdsa.PrivateKey:
		return []*big.Int{k.D}
	}
	t.Fatalf("%s: unexpected key type %T", label, key)
	return nil
}
