package oauthvendor

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// The private_key_jwt key lifecycle: generated at the first write that
// asks for private_key_jwt without a key, published (with the next key
// while a rotation is pending) at jwks/<name>, switched by rotate-key.
// Keys live in the config record, which is seal-wrapped; no path returns
// more than their public halves.

// ensureSigningKey generates the key of a private_key_jwt config that has
// none, and records the type of a written one. generated: the vendor
// cannot know this key yet, so the write is not verified.
func ensureSigningKey(cfg, eff *vendorConfig) (generated bool, err error) {
	if eff.ClientAuth != authPrivateKeyJWT {
		return false, nil
	}
	if cfg.PrivateKey != "" {
		k, err := parsePrivateKey(cfg.PrivateKey)
		if err != nil {
			return false, fieldErr("private_key", "%s", err.Error())
		}
		cfg.KeyType = k.keyType
		return false, nil
	}
	pemText, err := generateKey(eff.KeyType)
	if err != nil {
		return false, err
	}
	cfg.PrivateKey, cfg.KeyType = pemText, eff.KeyType
	return true, nil
}

// algFor is the algorithm a key of keyType signs with under raw's
// settings: the written signing_alg, else the key type's default.
func algFor(raw *vendorConfig, keyType string) string {
	if raw.SigningAlg != "" {
		return raw.SigningAlg
	}
	return defaultSigningAlg(authPrivateKeyJWT, keyType)
}

// publishedKey is one key of the JWKS: its PEM and its certificate.
type publishedKey struct{ key, cert string }

func publishedKeys(raw *vendorConfig) []publishedKey {
	out := []publishedKey{{raw.PrivateKey, raw.Certificate}}
	if raw.NextPrivateKey != "" {
		out = append(out, publishedKey{raw.NextPrivateKey, raw.NextCertificate})
	}
	return out
}

// publicJWKS is the JWKS of a private_key_jwt config: the signing key and,
// while a rotation is pending, the next one. Public members only: go-jose
// marshals a public key's n, e or crv, x, y and nothing else.
func publicJWKS(raw *vendorConfig) ([]byte, error) {
	if raw.effective().ClientAuth != authPrivateKeyJWT || raw.PrivateKey == "" {
		return nil, errNoJWKS
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, pk := range publishedKeys(raw) {
		jwk, err := publicJWKOf(raw, pk)
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, jwk)
	}
	return json.Marshal(set)
}

var errNoJWKS = errors.New("no private_key_jwt key")

func publicJWKOf(raw *vendorConfig, pk publishedKey) (jose.JSONWebKey, error) {
	k, err := parsePrivateKey(pk.key)
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("stored signing key: %w", err)
	}
	jwk := k.publicJWK(algFor(raw, k.keyType))
	if pk.cert != "" {
		cert, err := parseCertificate(pk.cert, k)
		if err != nil {
			return jose.JSONWebKey{}, fmt.Errorf("stored certificate: %w", err)
		}
		sum := sha256.Sum256(cert.Raw)
		jwk.CertificateThumbprintSHA256 = sum[:]
		jwk.Certificates = append(jwk.Certificates, cert)
	}
	return jwk, nil
}

// kidOf is the RFC 7638 thumbprint of a stored key, "" when there is none.
func kidOf(pemText string) string {
	if pemText == "" {
		return ""
	}
	k, err := parsePrivateKey(pemText)
	if err != nil {
		return ""
	}
	return k.kid
}
