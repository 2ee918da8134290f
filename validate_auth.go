package oauthvendor

import (
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// hmacKeyMin: RFC 7518 3.2 requires an HS256 key of at least 256 bits; a
// shorter client_secret makes a client_secret_jwt assertion that
// conforming servers (oidc-provider among them) refuse.
const hmacKeyMin = 32

// validateClientAuth checks the fields of client authentication beyond
// shared secrets (API.md "Client authentication"). No message quotes a
// key or a certificate: a key is write-only, and neither tells anything
// in a 64-byte prefix.
func validateClientAuth(raw, eff *vendorConfig) error {
	checks := []func() error{
		func() error { return validatePEMSizes(eff) },
		func() error { return oneOf("key_type", eff.KeyType, keyRSA, keyEC) },
		func() error { return validateAuthGrant(raw, eff) },
		func() error { return validateJWTBearer(eff) },
		func() error { return validateAssertionSource(eff) },
		func() error { return validateSigning(raw, eff) },
		func() error { return validateMTLS(eff) },
		func() error { return validateAudience(eff.AssertionAudience) },
		func() error { return validateIssuer(eff.Issuer) },
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func validatePEMSizes(c *vendorConfig) error {
	for field, v := range map[string]string{
		"private_key": c.PrivateKey, "certificate": c.Certificate,
		"tls_client_cert": c.TLSClientCert, "tls_client_key": c.TLSClientKey,
	} {
		if len(v) > maxKeyPEM {
			return fieldErr(field, "longer than %d bytes", maxKeyPEM)
		}
	}
	return nil
}

// validateAuthGrant: AlertSite's login carries no OAuth fields at all, so
// it has no client authentication to sign or present.
func validateAuthGrant(raw, eff *vendorConfig) error {
	if eff.GrantType == grantLogin && raw.ClientAuth != "" && raw.ClientAuth != authBody {
		return fieldErr("client_auth", "%s needs an OAuth grant; grant_type login sends a plain {username, password}", eff.ClientAuth)
	}
	return nil
}

// validateSigning: the key parses and fits the algorithm, the certificate
// is the key's, an HMAC secret is long enough.
func validateSigning(raw, eff *vendorConfig) error {
	if raw.SigningAlg != "" {
		if err := oneOf("signing_alg", raw.SigningAlg, algRS256, algPS256, algES256, algHS256); err != nil {
			return err
		}
	}
	if eff.signsWithKey() {
		return validateSigningKey(raw, eff)
	}
	switch eff.ClientAuth {
	case authClientSecretJWT:
		if eff.SigningAlg != algHS256 {
			return fieldErr("signing_alg", "%s does not fit client_auth client_secret_jwt, which signs with HS256", quote(eff.SigningAlg))
		}
		if len(eff.ClientSecret) < hmacKeyMin {
			return fieldErr("client_secret", "is shorter than %d bytes, which client_secret_jwt (HS256) needs (RFC 7518 3.2)", hmacKeyMin)
		}
	}
	return nil
}

// validateSigningKey checks a written private_key (a generated one is made
// after validation, of the validated key_type).
func validateSigningKey(raw, eff *vendorConfig) error {
	keyType := eff.KeyType
	var key *oauth.SigningKey
	if eff.PrivateKey != "" {
		k, err := oauth.ParsePrivateKey(eff.PrivateKey)
		if err != nil {
			return fieldErr("private_key", "%s", err.Error())
		}
		if raw.KeyType != "" && raw.KeyType != k.KeyType() {
			return fieldErr("key_type", "%s, but private_key is an %s key", raw.KeyType, k.KeyType())
		}
		key, keyType = k, k.KeyType()
	}
	// The written signing_alg, else the default of the key's real type
	// (eff's default follows key_type, which a written key overrides).
	if err := algFitsKey(algOr(raw.SigningAlg, keyType), keyType); err != nil {
		return err
	}
	if eff.Certificate != "" {
		if key == nil {
			return fieldErr("certificate", "needs the private_key it certifies (a generated key has no certificate)")
		}
		if _, err := oauth.ParseCertificate(eff.Certificate, key); err != nil {
			return fieldErr("certificate", "%s", err.Error())
		}
	}
	return checkNextKey(raw)
}

func algFitsKey(alg, keyType string) error {
	fits := map[string][]string{keyRSA: {algRS256, algPS256}, keyEC: {algES256}}[keyType]
	for _, a := range fits {
		if a == alg {
			return nil
		}
	}
	return fieldErr("signing_alg", "%s does not fit an %s key (use %v)", quote(alg), keyType, fits)
}

// validateMTLS: both halves of the client certificate, matching, and a
// TLS connection to present them on.
func validateMTLS(c *vendorConfig) error {
	if err := validateMTLSPair(c); err != nil || c.TLSClientCert == "" {
		return err
	}
	if u, err := url.Parse(c.TokenURL); err == nil && u.Scheme != "https" {
		return fieldErr("tls_client_cert", "token_url is %s; a client certificate is presented on https only", u.Scheme)
	}
	return nil
}

// validateDiscoveryInputs: what the metadata request is made with.
func validateDiscoveryInputs(c *vendorConfig) error {
	for _, check := range []func() error{
		func() error { return validateIssuer(c.Issuer) },
		func() error { return validateDurations(c) },
		func() error { return validatePEMSizes(c) },
		func() error { return validateCACert(c.CACert) },
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return validateMTLSPair(c)
}

// validateMTLSPair: both halves of the client certificate, matching.
func validateMTLSPair(c *vendorConfig) error {
	if c.TLSClientCert == "" {
		if c.TLSClientKey != "" {
			return fieldErr("tls_client_cert", "required with tls_client_key")
		}
		return nil
	}
	_, err := oauth.ClientKeyPair(c.TLSClientCert, c.TLSClientKey)
	return err
}

func validateAudience(aud string) error {
	if len(aud) > maxTokenURL {
		return fieldErr("assertion_audience", "longer than %d bytes", maxTokenURL)
	}
	if hasCTL(aud) {
		return fieldErr("assertion_audience", "has a control character")
	}
	// An audience need not be a URL (RFC 7523 3 allows the issuer
	// identifier); one that is names its host as token_url does.
	if u, err := url.Parse(aud); err == nil && u.Host != "" {
		return asciiHost("assertion_audience", u.Hostname())
	}
	return nil
}

func validateIssuer(issuer string) error {
	if issuer == "" {
		return nil
	}
	if len(issuer) > maxTokenURL {
		return fieldErr("issuer", "longer than %d bytes", maxTokenURL)
	}
	// RFC 8414 2: an issuer has no query or fragment (the well-known path
	// would land in them).
	if u, err := url.Parse(issuer); err == nil && (u.RawQuery != "" || u.ForceQuery) {
		return fieldErr("issuer", "must not have a query (RFC 8414 2)")
	}
	return validateEndpoint("issuer", issuer)
}

// validateJWTBearer: the jwt_bearer grant's assertion (RFC 7523 2.1, 3).
// Its client authenticates with a shared secret or a certificate, or not
// at all; never with a second signed assertion. The assertion's fields
// are checked whatever the grant, so that a stored value stays valid.
func validateJWTBearer(eff *vendorConfig) error {
	if eff.GrantType == grantJWTBearer {
		switch eff.ClientAuth {
		case authPrivateKeyJWT, authClientSecretJWT:
			return fieldErr("client_auth", "%s signs a client assertion beside the grant's; grant_type jwt_bearer takes body, basic (with client_secret) or tls_client_auth", eff.ClientAuth)
		case authBasic:
			if eff.ClientSecret == "" {
				return fieldErr("client_secret", "required for grant_type jwt_bearer with client_auth basic (without one, use client_auth body: no client credentials are sent)")
			}
		}
	}
	if eff.AssertionTTL < 0 {
		return fieldErr("assertion_ttl", "must not be negative")
	}
	if eff.AssertionTTL > oauth.MaxAssertionTTL {
		return fieldErr("assertion_ttl", "must not exceed %s (RFC 7523 3: an assertion is short-lived; Google refuses more than an hour)", oauth.MaxAssertionTTL)
	}
	for field, v := range map[string]string{"subject": eff.Subject, "assertion_issuer": eff.AssertionIssuer} {
		if err := validateClaimText(field, v); err != nil {
			return err
		}
	}
	if err := validateKeyID(eff.KeyID); err != nil {
		return err
	}
	if err := validateRedirectURL(eff.RedirectURL); err != nil {
		return err
	}
	if err := validateAssertionClaims(eff.AssertionClaims); err != nil {
		return err
	}
	return validatePresetAssertion(eff)
}

// validateClaimText: a readable value that travels as a claim.
func validateClaimText(field, v string) error {
	if len(v) > maxStringLen {
		return fieldErr(field, "longer than %d bytes", maxStringLen)
	}
	if hasCTL(v) {
		return fieldErr(field, "has a control character")
	}
	return nil
}

// validateKeyID: a kid travels in every assertion's header and names the
// key in jwks/<name>.
func validateKeyID(kid string) error {
	if len(kid) > 256 {
		return fieldErr("key_id", "longer than 256 bytes")
	}
	if hasCTL(kid) {
		return fieldErr("key_id", "has a control character")
	}
	return nil
}

// validateRedirectURL: the redirect URI registered with the vendor, which
// a consent URL names; an absolute URL when given.
func validateRedirectURL(raw string) error {
	if raw == "" {
		return nil
	}
	if len(raw) > maxTokenURL {
		return fieldErr("redirect_url", "longer than %d bytes", maxTokenURL)
	}
	if u, err := url.Parse(raw); err != nil || !u.IsAbs() || u.Host == "" || hasCTL(raw) {
		return fieldErr("redirect_url", "must be an absolute URL such as https://app.example.com/callback")
	}
	return nil
}

// validatePresetAssertion holds a jwt_bearer config to its preset's
// vendor: the longest assertion it takes (Box: 60 s), and the claims it
// requires with their values (Box's box_sub_type).
func validatePresetAssertion(eff *vendorConfig) error {
	p, ok := presets[eff.Preset]
	if !ok || eff.GrantType != grantJWTBearer {
		return nil
	}
	if limit := p.maxAssertionTTL(); eff.AssertionTTL > limit {
		return fieldErr("assertion_ttl", "must not exceed %s with preset %s (%s refuses a longer assertion)", limit, eff.Preset, p.Vendor)
	}
	if _, ok := eff.AssertionClaims["scope"]; ok && p.ScopeInAssertion && len(eff.Scopes) > 0 {
		return fieldErr("assertion_claims", "%s is set from scopes with preset %s (%s reads the scopes in the assertion)", quote("scope"), eff.Preset, p.Vendor)
	}
	if _, ok := eff.AssertionClaims[p.SubjectAlsoAs]; ok && p.SubjectAlsoAs != "" {
		return fieldErr("assertion_claims", "%s is set from subject with preset %s", quote(p.SubjectAlsoAs), eff.Preset)
	}
	for _, claim := range slices.Sorted(maps.Keys(p.ClaimValues)) {
		allowed := p.ClaimValues[claim]
		v, ok := eff.AssertionClaims[claim]
		if !ok {
			return fieldErr("assertion_claims", "%s=<%s> is required with preset %s", claim, strings.Join(allowed, "|"), eff.Preset)
		}
		if !slices.Contains(allowed, v) {
			return fieldErr("assertion_claims", "%s is %s; %s takes %s", claim, quote(v), p.Vendor, strings.Join(allowed, " or "))
		}
	}
	return nil
}

// validateAssertionClaims: extra claims may not replace the registered
// ones the plugin sets (RFC 7519 4.1). Names are not quoted unless they
// are one of those: like params, a mis-pasted pair may carry a value in
// its name.
func validateAssertionClaims(claims map[string]string) error {
	if len(claims) > maxPairs {
		return fieldErr("assertion_claims", "more than %d claims", maxPairs)
	}
	for name, value := range claims {
		for _, r := range oauth.ReservedClaims {
			if name == r {
				return fieldErr("assertion_claims", "%s is set by the plugin (from client_id, subject, assertion_audience, assertion_ttl); it cannot be given as an extra claim", quote(name))
			}
		}
		if !paramNameRe.MatchString(name) {
			return fieldErr("assertion_claims", "a name of %d bytes is not a valid claim name (letters, digits and ._~-[], at most 256 bytes); give each claim as name=value", len(name))
		}
		if len(value) > maxStringLen || hasCTL(value) {
			return fieldErr("assertion_claims", "value of %s is longer than %d bytes or has a control character", quote(name), maxStringLen)
		}
	}
	return nil
}
