package oauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Key types and signature algorithms of client assertions (RFC 7518 3).
const (
	KeyRSA = "rsa"
	KeyEC  = "ec"

	AlgRS256 = "RS256"
	AlgPS256 = "PS256"
	AlgES256 = "ES256"
	AlgHS256 = "HS256"

	// rsaBits: RFC 7518 3.3 asks for 2048 bits or more. rsaMaxBits bounds
	// what one signature (and one parse) costs.
	rsaBits    = 2048
	rsaMaxBits = 8192
	// MaxKeyPEM bounds a written key or certificate: a 4096-bit RSA key
	// in PEM is about 3.3 KiB, a certificate chain a few more.
	MaxKeyPEM = 32 << 10
)

func DefaultSigningAlg(clientAuth, keyType string) string {
	switch {
	case clientAuth == AuthClientSecretJWT:
		return AlgHS256
	case clientAuth == AuthPrivateKeyJWT && keyType == KeyEC:
		return AlgES256
	case clientAuth == AuthPrivateKeyJWT:
		return AlgRS256
	}
	return ""
}

// SigningKey is a parsed private_key: what signs, and its public half as
// a JWK whose kid is the RFC 7638 thumbprint (what Okta, Auth0 and
// oidc-provider match the assertion header's kid against).
type SigningKey struct {
	priv    crypto.Signer
	keyType string
	kid     string
}

// ParsePrivateKey reads a PEM private key. Errors say what is wrong with
// the key, never a byte of it (it is write-only).
func ParsePrivateKey(pemText string) (*SigningKey, error) {
	block, rest := pem.Decode([]byte(pemText))
	if block != nil && block.Type == "EC PARAMETERS" {
		// `openssl ecparam -genkey` writes the curve's name first.
		block, rest = pem.Decode(rest)
	}
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("holds more than one PEM block; give the key alone")
	}
	if strings.Contains(block.Type, "ENCRYPTED") || block.Headers["Proc-Type"] != "" {
		return nil, errors.New("is an encrypted PEM key; give it decrypted (Vault's storage encrypts it)")
	}
	priv, err := parseKeyBlock(block)
	if err != nil {
		return nil, err
	}
	return newSigningKey(priv)
}

func parseKeyBlock(block *pem.Block) (crypto.Signer, error) {
	var key interface{}
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("is a %s PEM block; expected PRIVATE KEY (PKCS#8), RSA PRIVATE KEY or EC PRIVATE KEY", Quote(block.Type))
	}
	if err != nil {
		// The x509 parse errors name the ASN.1 structure, not its bytes.
		return nil, fmt.Errorf("does not parse as %s", block.Type)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("is not a signing key")
	}
	return signer, nil
}

func newSigningKey(priv crypto.Signer) (*SigningKey, error) {
	k := &SigningKey{priv: priv}
	switch pub := priv.Public().(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < rsaBits {
			return nil, fmt.Errorf("is an RSA key of %d bits; at least %d are needed (RFC 7518 3.3)", pub.N.BitLen(), rsaBits)
		}
		if pub.N.BitLen() > rsaMaxBits {
			return nil, fmt.Errorf("is an RSA key of %d bits; at most %d are taken", pub.N.BitLen(), rsaMaxBits)
		}
		k.keyType = KeyRSA
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("is an EC key on %s; ES256 needs P-256", pub.Curve.Params().Name)
		}
		k.keyType = KeyEC
	default:
		return nil, errors.New("is neither an RSA nor an EC P-256 key")
	}
	jwk := k.PublicJWK("")
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("thumbprint: %w", err)
	}
	k.kid = base64.RawURLEncoding.EncodeToString(thumb)
	return k, nil
}

// GenerateKey makes a key that never leaves Vault, as PKCS#8 PEM.
func GenerateKey(keyType string) (string, error) {
	var priv crypto.Signer
	var err error
	if keyType == KeyEC {
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	}
	if err != nil {
		return "", fmt.Errorf("generating a %s key: %w", keyType, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("encoding the generated key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// KeyType is KeyRSA or KeyEC.
func (k *SigningKey) KeyType() string { return k.keyType }

// Kid is the key's RFC 7638 thumbprint, the kid of its assertions.
func (k *SigningKey) Kid() string { return k.kid }

// PublicJWK is the key's public half: the only part any path shows.
func (k *SigningKey) PublicJWK(alg string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: alg, Use: "sig"}
}

// PublicPEM is the public key as SPKI PEM, for vendors where it is pasted
// into a console (Okta's "Add key", a PEM upload).
func (k *SigningKey) PublicPEM() string {
	der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		return ""
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// ParseCertificate reads the leaf of a PEM chain and checks it holds key's
// public half: a certificate of another key would make every assertion's
// x5t#S256 point at the wrong key.
func ParseCertificate(pemText string, key *SigningKey) (*x509.Certificate, error) {
	certs, err := CertificatesOnly(pemText)
	if err != nil {
		return nil, err
	}
	cert := certs[0]
	if key != nil {
		type equaler interface{ Equal(crypto.PublicKey) bool }
		if pub, ok := key.priv.Public().(equaler); !ok || !pub.Equal(cert.PublicKey) {
			return nil, errors.New("is not the certificate of private_key (its public key differs)")
		}
	}
	return cert, nil
}

// CertSHA256 is the SHA-256 of a certificate's DER: x5t#S256 (RFC 7515
// 4.1.8) in an assertion header, base64url-encoded, and in a JWK.
func CertSHA256(cert *x509.Certificate) []byte {
	sum := sha256.Sum256(cert.Raw)
	return sum[:]
}

// certThumbprint is x5t#S256 as a JWS header carries it.
func certThumbprint(cert *x509.Certificate) string {
	return base64.RawURLEncoding.EncodeToString(CertSHA256(cert))
}

// KeySecrets are the forms in which a PEM private key could show in text:
// its base64 body (the redactor finds any long run of it, whatever the line
// breaks) and the JWK private members (d, p, q, dp, dq, qi). The PEM armour
// ("-----BEGIN PRIVATE KEY-----") is not secret and is left out, so that a
// message naming a key type is not withheld.
func KeySecrets(pemText string) []string {
	if pemText == "" {
		return nil
	}
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return []string{pemText} // not a PEM: the whole text is the secret
	}
	out := []string{base64.StdEncoding.EncodeToString(block.Bytes)}
	priv, err := parseKeyBlock(block)
	if err != nil {
		return out
	}
	b64 := func(n *big.Int) string { return base64.RawURLEncoding.EncodeToString(n.Bytes()) }
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		out = append(out, b64(k.D))
		for _, p := range k.Primes {
			out = append(out, b64(p))
		}
		k.Precompute()
		out = append(out, b64(k.Precomputed.Dp), b64(k.Precomputed.Dq), b64(k.Precomputed.Qinv))
	case *ecdsa.PrivateKey:
		if d, err := k.Bytes(); err == nil {
			out = append(out, base64.RawURLEncoding.EncodeToString(d))
		}
	}
	return out
}
