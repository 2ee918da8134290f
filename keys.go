package oauthvendor

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/vault/sdk/framework"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// The signing key lifecycle of private_key_jwt and jwt_bearer configs
// (signsWithKey): generated at the first write that asks for either
// without a key, published (with the next key
// while a rotation is pending) at jwks/<name>, switched by rotate-key.
// Keys live in the config record, which is seal-wrapped; no path returns
// more than their public halves.

// ensureSigningKey generates the key of a config that signs with one
// (private_key_jwt, jwt_bearer) and has none, and records the type of a written one. generated: the vendor
// cannot know this key yet, so the write is not verified.
func ensureSigningKey(cfg, eff *vendorConfig) (generated bool, err error) {
	if !eff.signsWithKey() {
		return false, nil
	}
	if cfg.PrivateKey != "" {
		k, err := oauth.ParsePrivateKey(cfg.PrivateKey)
		if err != nil {
			return false, fieldErr("private_key", "%s", err.Error())
		}
		cfg.KeyType = k.KeyType()
		return false, nil
	}
	pemText, err := oauth.GenerateKey(eff.KeyType)
	if err != nil {
		return false, err
	}
	cfg.PrivateKey, cfg.KeyType = pemText, eff.KeyType
	return true, nil
}

// keyWriteRules: a written private_key replaces the key outright (its
// type is then the key's own, unless key_type is given to be checked);
// an empty one would silently generate a new key and unpublish the one the
// vendor knows.
func keyWriteRules(cfg *vendorConfig, d *framework.FieldData) error {
	v, ok := d.GetOk("private_key")
	if !ok {
		return nil
	}
	if v.(string) == "" {
		return fieldErr("private_key", "is empty: omit it to keep the key; rotate-key/<name> replaces a key without downtime")
	}
	if _, ok := d.GetOk("key_type"); !ok {
		cfg.KeyType = ""
	}
	// key_id and a key file named the key being replaced.
	if _, ok := d.GetOk("key_id"); !ok {
		cfg.KeyID = ""
	}
	cfg.CredentialsJSON = ""
	return nil
}

// algOr is the algorithm a key of keyType signs with: the written one
// (signing_alg for the current key; for the published next key, what
// rotate-key was given, or the written one then), else its type's default.
func algOr(written, keyType string) string {
	if written != "" {
		return written
	}
	return oauth.DefaultSigningAlg(authPrivateKeyJWT, keyType)
}

// publishedKey is one key of the JWKS: its PEM, its certificate, and
// whether it is the next key.
type publishedKey struct {
	key, cert string
	next      bool
}

func publishedKeys(raw *vendorConfig) []publishedKey {
	out := []publishedKey{{key: raw.PrivateKey, cert: raw.Certificate}}
	if raw.NextPrivateKey != "" {
		out = append(out, publishedKey{key: raw.NextPrivateKey, cert: raw.NextCertificate, next: true})
	}
	return out
}

// checkNextKey holds the published next key to what it will sign with, so
// that no write (a signing_alg change, a switch) can leave a key that
// cannot sign, or one whose certificate is another key's.
func checkNextKey(raw *vendorConfig) error {
	if raw.NextPrivateKey == "" {
		return nil
	}
	if len(raw.NextPrivateKey) > maxKeyPEM {
		return fieldErr("private_key", "longer than %d bytes", maxKeyPEM)
	}
	if len(raw.NextCertificate) > maxKeyPEM {
		return fieldErr("certificate", "longer than %d bytes", maxKeyPEM)
	}
	k, err := oauth.ParsePrivateKey(raw.NextPrivateKey)
	if err != nil {
		return fieldErr("private_key", "%s (the next key)", err.Error())
	}
	if err := algFitsKey(algOr(raw.NextSigningAlg, k.KeyType()), k.KeyType()); err != nil {
		return fmt.Errorf("%w, for the next key rotate-key published (give signing_alg with step=publish, or step=cancel)", err)
	}
	if raw.NextCertificate != "" {
		if _, err := oauth.ParseCertificate(raw.NextCertificate, k); err != nil {
			return fieldErr("certificate", "%s", err.Error())
		}
	}
	return nil
}

// publicJWKS is the JWKS of a config that signs with its key: the signing key and,
// while a rotation is pending, the next one. Public members only: go-jose
// marshals a public key's n, e or crv, x, y and nothing else.
func publicJWKS(raw *vendorConfig) ([]byte, error) {
	if !raw.effective().signsWithKey() || raw.PrivateKey == "" {
		return nil, errNoJWKS
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, pk := range publishedKeys(raw) {
		k, err := oauth.ParsePrivateKey(pk.key)
		if err != nil {
			return nil, fmt.Errorf("stored signing key: %w", err)
		}
		jwk, err := publicJWKOf(raw, k, pk)
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, jwk)
	}
	return json.Marshal(set)
}

var errNoJWKS = errors.New("no signing key (private_key_jwt or jwt_bearer)")

// publicJWKOf is the JWK of pk, whose key k the caller has parsed.
func publicJWKOf(raw *vendorConfig, k *oauth.SigningKey, pk publishedKey) (jose.JSONWebKey, error) {
	written := raw.SigningAlg
	if pk.next {
		written = raw.NextSigningAlg
	}
	jwk := k.PublicJWK(algOr(written, k.KeyType()))
	if !pk.next && raw.KeyID != "" {
		jwk.KeyID = raw.KeyID // the kid the assertions carry
	}
	if pk.cert != "" {
		cert, err := oauth.ParseCertificate(pk.cert, k)
		if err != nil {
			return jose.JSONWebKey{}, fmt.Errorf("stored certificate: %w", err)
		}
		jwk.CertificateThumbprintSHA256 = oauth.CertSHA256(cert)
		jwk.Certificates = append(jwk.Certificates, cert)
	}
	return jwk, nil
}

// signingKid is the kid the config's assertions carry: key_id, else the
// key's thumbprint.
func signingKid(raw *vendorConfig) string {
	if raw.KeyID != "" && raw.PrivateKey != "" {
		return raw.KeyID
	}
	return kidOf(raw.PrivateKey)
}

// kidOf is the RFC 7638 thumbprint of a stored key, "" when there is none.
func kidOf(pemText string) string {
	if pemText == "" {
		return ""
	}
	k, err := oauth.ParsePrivateKey(pemText)
	if err != nil {
		return ""
	}
	return k.Kid()
}
