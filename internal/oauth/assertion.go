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

// The jwt_bearer grant's assertion lifetime: the default, and the most a
// config may ask (Google refuses an exp more than an hour after iat).
const (
	DefaultAssertionTTL = 5 * time.Minute
	MaxAssertionTTL     = time.Hour
)

// ReservedClaims are the registered claims (RFC 7519 4.1) an assertion's
// own fields set: assertion_claims may not replace them.
var ReservedClaims = []string{"iss", "sub", "aud", "iat", "exp", "jti", "nbf"}

// assertionSigner makes the assertions of one config version: the client
// assertions of private_key_jwt and client_secret_jwt, or the jwt_bearer
// grant's. Built once at connect: parsing the key and building the signer
// is not per request.
type assertionSigner struct {
	signer   jose.Signer
	issuer   string
	subject  string // "" leaves sub out
	audience string
	ttl      time.Duration
	extra    map[string]interface{}
}

// newAssertionSigner is nil for the configs that send no assertion. A
// signing grant (jwt_bearer) signs with the config's private key, as
// private_key_jwt does; NewClient refuses a client_auth that would sign a
// second one.
func newAssertionSigner(cfg *Config, g grant, auth clientAuth) (*assertionSigner, error) {
	keyOf := auth.key
	if g.signs {
		keyOf = assertionKeyPrivate
	}
	if keyOf == nil {
		return nil, nil
	}
	key, opts, err := keyOf(cfg, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		return nil, fmt.Errorf("signing_alg %s: %w", cfg.SigningAlg, err)
	}
	a := &assertionSigner{signer: signer, issuer: cfg.ClientID, audience: cfg.AssertionAudience}
	if cfg.AssertionIssuer != "" {
		a.issuer = cfg.AssertionIssuer
	}
	if !g.signs {
		a.subject, a.ttl = clientAssertionSubject(cfg), assertionLifetime
		return a, nil
	}
	a.subject, a.ttl = cfg.Subject, cfg.AssertionTTL
	if a.ttl <= 0 {
		a.ttl = DefaultAssertionTTL
	}
	extra, err := grantClaims(cfg)
	if err != nil {
		return nil, err
	}
	a.extra = extra
	return a, nil
}

// grantClaims are a jwt_bearer assertion's claims beyond the registered
// ones: assertion_claims, and scope when the vendor reads the scopes there
// (ScopeInAssertion). nil when there are none.
func grantClaims(cfg *Config) (map[string]interface{}, error) {
	for _, name := range ReservedClaims {
		if _, ok := cfg.AssertionClaims[name]; ok {
			return nil, fmt.Errorf("assertion_claims: %s is set by the plugin", Quote(name))
		}
	}
	scoped := cfg.ScopeInAssertion && len(cfg.Scopes) > 0
	if _, ok := cfg.AssertionClaims["scope"]; ok && scoped {
		return nil, fmt.Errorf("assertion_claims: %s is set from scopes (the vendor reads the scopes in the assertion)", Quote("scope"))
	}
	if len(cfg.AssertionClaims) == 0 && !scoped {
		return nil, nil
	}
	extra := make(map[string]interface{}, len(cfg.AssertionClaims)+1)
	for k, v := range cfg.AssertionClaims {
		extra[k] = v
	}
	if scoped {
		extra["scope"] = strings.Join(cfg.Scopes, " ")
	}
	return extra, nil
}

// clientAssertionSubject: RFC 7523 3 makes a client assertion's sub the
// client itself. A JWT of another issuer (AssertionIssuer) names the
// workload instead: Entra ID's federated identity credential matches the
// pair (iss, sub) it was given, not the client_id.
func clientAssertionSubject(cfg *Config) string {
	if cfg.AssertionIssuer != "" && cfg.Subject != "" {
		return cfg.Subject
	}
	return cfg.ClientID
}

// assertionKeyPrivate: private_key_jwt signs with the config's private key,
// named by KeyID when the vendor assigned the key an ID, else by its RFC
// 7638 thumbprint (jwks/<name> publishes the same kid).
func assertionKeyPrivate(cfg *Config, opts *jose.SignerOptions) (jose.SigningKey, *jose.SignerOptions, error) {
	k, err := ParsePrivateKey(cfg.PrivateKey)
	if err != nil {
		return jose.SigningKey{}, nil, fmt.Errorf("private_key: %w", err)
	}
	kid := k.kid
	if cfg.KeyID != "" {
		kid = cfg.KeyID
	}
	opts = opts.WithHeader("kid", kid)
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

// Signer makes the assertions a Config describes (its grant's, or its
// client assertion) with its PrivateKey, outside a Client: a caller that
// supplies assertions (AssertionSupplier) signs them with it, and keeps
// one per key version.
type Signer struct{ a *assertionSigner }

// NewSigner prepares cfg's assertions; an error when cfg sends none.
func NewSigner(cfg *Config) (*Signer, error) {
	g, auth, err := rowsOf(cfg)
	if err != nil {
		return nil, err
	}
	if !g.signs && auth.key == nil {
		return nil, fmt.Errorf("client_auth %s with grant_type %s sends no assertion", cfg.ClientAuth, cfg.GrantType)
	}
	if g.signs && auth.key != nil {
		return nil, errTwoAssertions(cfg)
	}
	a, err := newAssertionSigner(cfg, g, auth)
	if err != nil {
		return nil, err
	}
	return &Signer{a: a}, nil
}

// NewJWTSigner prepares the JWTs a caller issues in its own name rather
// than a Config's assertion: a token exchange's subject token (RFC 8693
// 2.1) from the caller's issuer. They hold what a jwt_bearer grant's
// assertion holds (iss AssertionIssuer, sub Subject, aud
// AssertionAudience, AssertionTTL, AssertionClaims), whatever cfg's
// grant and client authentication.
func NewJWTSigner(cfg *Config) (*Signer, error) {
	a, err := newAssertionSigner(cfg, grant{signs: true}, clientAuth{})
	if err != nil {
		return nil, err
	}
	return &Signer{a: a}, nil
}

// Sign makes one assertion, with a fresh jti, issued at now.
func (s *Signer) Sign(now time.Time) (string, error) { return s.a.sign(now) }

// assertionKeySecret: client_secret_jwt signs with the client secret (HS256).
func assertionKeySecret(cfg *Config, opts *jose.SignerOptions) (jose.SigningKey, *jose.SignerOptions, error) {
	return jose.SigningKey{Algorithm: jose.HS256, Key: []byte(cfg.ClientSecret)}, opts, nil
}

// sign makes one assertion (RFC 7523 3): iss (client_id unless
// AssertionIssuer), sub (the client
// itself for a client assertion, the subject for a grant), the server's
// aud, a jti never used before (servers refuse a replay), iat and a short
// exp, then the grant's extra claims (the caller refuses extra claims that
// would replace these).
func (a *assertionSigner) sign(now time.Time) (string, error) {
	jti := make([]byte, 18)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims := jwt.Claims{
		Issuer:   a.issuer,
		Subject:  a.subject,
		Audience: jwt.Audience{a.audience}, // one audience marshals as a string, as Okta requires
		ID:       base64.RawURLEncoding.EncodeToString(jti),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(a.ttl)),
	}
	b := jwt.Signed(a.signer)
	if a.extra != nil {
		b = b.Claims(a.extra)
	}
	return b.Claims(claims).Serialize()
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
