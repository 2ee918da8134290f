package oauth

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// JWTBearerAssertion is RFC 7523 2.2's client_assertion_type.
const JWTBearerAssertion = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionLifetime: API.md asks for exp within 5 minutes. An assertion is
// sent once, at once; two minutes still absorb a vendor clock that runs
// behind ours.
const assertionLifetime = 2 * time.Minute

// assertionSigner makes the client assertions of one config version
// (private_key_jwt, client_secret_jwt). Built once at connect: parsing the
// key and building the signer is not per request.
type assertionSigner struct {
	signer   jose.Signer
	clientID string
	audience string
}

// newAssertionSigner is nil for the client_auth methods that send no
// assertion.
func newAssertionSigner(cfg *Config, auth clientAuth) (*assertionSigner, error) {
	if auth.key == nil {
		return nil, nil
	}
	key, opts, err := auth.key(cfg, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		return nil, fmt.Errorf("signing_alg %s: %w", cfg.SigningAlg, err)
	}
	return &assertionSigner{signer: signer, clientID: cfg.ClientID, audience: cfg.AssertionAudience}, nil
}

// assertionKeyPrivate: private_key_jwt signs with the config's private key,
// named by its RFC 7638 thumbprint.
func assertionKeyPrivate(cfg *Config, opts *jose.SignerOptions) (jose.SigningKey, *jose.SignerOptions, error) {
	k, err := ParsePrivateKey(cfg.PrivateKey)
	if err != nil {
		return jose.SigningKey{}, nil, fmt.Errorf("private_key: %w", err)
	}
	opts = opts.WithHeader("kid", k.kid)
	if cfg.Certificate != "" {
		cert, err := ParseCertificate(cfg.Certificate, k)
		if err != nil {
			return jose.SigningKey{}, nil, fmt.Errorf("certificate: %w", err)
		}
		// Entra ID finds the application's key by the certificate's
		// thumbprint, not by kid.
		opts = opts.WithHeader("x5t#S256", certThumbprint(cert))
	}
	return jose.SigningKey{Algorithm: jose.SignatureAlgorithm(cfg.SigningAlg), Key: k.priv}, opts, nil
}

// assertionKeySecret: client_secret_jwt signs with the client secret (HS256).
func assertionKeySecret(cfg *Config, opts *jose.SignerOptions) (jose.SigningKey, *jose.SignerOptions, error) {
	return jose.SigningKey{Algorithm: jose.HS256, Key: []byte(cfg.ClientSecret)}, opts, nil
}

// sign makes one assertion (RFC 7523 3): iss = sub = client_id, the
// server's aud, a jti never used before (servers refuse a replay), iat and
// a short exp.
func (a *assertionSigner) sign(now time.Time) (string, error) {
	jti := make([]byte, 18)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims := jwt.Claims{
		Issuer:   a.clientID,
		Subject:  a.clientID,
		Audience: jwt.Audience{a.audience}, // one audience marshals as a string, as Okta requires
		ID:       base64.RawURLEncoding.EncodeToString(jti),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(assertionLifetime)),
	}
	return jwt.Signed(a.signer).Claims(claims).Serialize()
}

// assertionSecrets are what of an assertion the redactor must cut out: the
// whole JWT (a vendor may echo the body) and its signature alone, the part
// that makes it a credential. Header and claims are not secret.
func assertionSecrets(assertion string) []string {
	if i := strings.LastIndexByte(assertion, '.'); i >= 0 {
		return []string{assertion, assertion[i+1:]}
	}
	return []string{assertion}
}
