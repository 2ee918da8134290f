package oauthvendor

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/idna"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// Limits on operator input: generous for any real vendor, small enough that
// a config cannot bloat storage or every token request.
const (
	maxStringLen  = 4096
	maxCACertLen  = 64 << 10
	maxPairs      = 32
	maxTokenURL   = 2048
	maxDurationIn = 10 * 365 * 24 * time.Hour
	// maxTimeout stays below Vault's default max_request_duration (90 s):
	// a creds read that waits on the vendor longer is cut off by Vault
	// with a bare 5xx, never the vendor's 502/504 naming the cause.
	maxTimeout = 60 * time.Second
	// maxNameLen keeps config/<name>, token/<name> and status/<name>, under
	// the mount's storage prefix, far below every backend's key limit
	// (integrated storage 32 KiB; DynamoDB and MySQL a few KiB), and names
	// short enough to read in logs and metric labels.
	maxNameLen = 128
	// maxQuoted is how much of an operator value an error message quotes.
	maxQuoted = oauth.MaxQuoted
)

// fieldError is a caller mistake: it becomes a 400 naming the field.
type fieldError struct {
	field, reason string
}

func (e *fieldError) Error() string { return e.field + ": " + e.reason }

func fieldErr(field, format string, args ...interface{}) error {
	return &fieldError{field: field, reason: fmt.Sprintf(format, args...)}
}

// prefix, quote and clip are oauth's: every error message, the protocol's
// and the engine's, quotes operator text the same way.
func prefix(s string) (string, bool) { return oauth.Prefix(s) }

func quote(s string) string { return oauth.Quote(s) }

func clip(s string) string { return oauth.Clip(s) }

// hasCTL reports a control character that cannot travel in an HTTP field
// value: RFC 9110 5.5 allows VCHAR, obs-text, SP and HTAB only. Go's
// transport would refuse the request at every grant; refusing at write
// names the field instead.
func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}

// nameRe is the route's framework.GenericNameRegex("name"), repeated so that
// validateName holds for callers that did not come through the route.
var nameRe = regexp.MustCompile(`^\w(([\w-.]+)?\w)?$`)

// validateName refuses a config name that storage cannot hold. Vault's
// storage view refuses any key containing ".." (logical.ErrRelativePath),
// which GenericNameRegex lets through ("a..b"); the plugin would see it as
// a storage error, a 500. Call it before the first storage access.
func validateName(name string) error {
	switch {
	case name == "":
		return fieldErr("name", "required")
	case len(name) > maxNameLen:
		return fieldErr("name", "longer than %d bytes", maxNameLen)
	case !nameRe.MatchString(name):
		return fieldErr("name", "%s may hold only letters, digits, _, - and ., and must start and end with a letter, digit or _", quote(name))
	case strings.Contains(name, ".."):
		return fieldErr("name", "%s contains \"..\", which Vault storage refuses as a relative path", quote(name))
	}
	return nil
}

// paramNameRe: the names token endpoints use (RFC 6749 A: letters, digits,
// _ and - in practice; . ~ and [] for nested forms).
var paramNameRe = regexp.MustCompile(`^[A-Za-z0-9._~\-\[\]]{1,256}$`)

// httpTokenRe is RFC 9110's token, the grammar of a header field name.
var httpTokenRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// headers the engine sets itself or that would corrupt the request framing.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Content-Type": true, "Transfer-Encoding": true,
	"Connection": true, "Upgrade": true, "Te": true, "Trailer": true, "Keep-Alive": true,
}

// body parameters the engine fills from dedicated fields.
var reservedParams = map[string]bool{
	"grant_type": true, "client_id": true, "client_secret": true, "username": true, "password": true, "scope": true,
	"client_assertion": true, "client_assertion_type": true,
}

// validate checks the effective (preset-resolved) config as a whole.
// Each check names the field the operator has to fix.
func validate(raw, eff *vendorConfig) error {
	checks := []func() error{
		func() error { return validatePreset(raw.Preset) },
		func() error { return validateSizes(raw) },
		func() error { return validateTokenURL(eff.TokenURL) },
		func() error { return validateDeviceAuthURL(eff.DeviceAuthURL) },
		func() error {
			return oneOf("grant_type", eff.GrantType, grantClientCredentials, grantPassword, grantLogin, grantJWTBearer, grantAccountCreds, grantTokenExchange, grantAuthorizationCode)
		},
		func() error { return oneOf("body_format", eff.BodyFormat, bodyForm, bodyJSON) },
		func() error {
			return oneOf("client_auth", eff.ClientAuth, authBody, authBasic, authPrivateKeyJWT, authClientSecretJWT, authTLSClient, authNone)
		},
		func() error { return validateConsent(eff) },
		func() error { return validateCredentials(eff) },
		func() error { return validateClientAuth(raw, eff) },
		func() error { return validateGrantFields(eff) },
		func() error { return validateDurations(eff) },
		func() error { return validateAPIKey(eff) },
		func() error { return validateHeaders(eff) },
		func() error { return validateParams(eff) },
		func() error { return validateScopes(eff.Scopes) },
		func() error { return validateResponseFields(eff) },
		func() error { return validateReadablePEM(eff) },
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func validatePreset(name string) error {
	if _, ok := presets[name]; name != "" && !ok {
		return fieldErr("preset", "unknown preset %s (known: %s)", quote(name), strings.Join(presetNames(), ", "))
	}
	return nil
}

func oneOf(field, value string, allowed ...string) error {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return fieldErr(field, "%s is not one of %s", quote(value), strings.Join(allowed, ", "))
}

func validateSizes(c *vendorConfig) error {
	strs := map[string]string{
		"client_id": c.ClientID, "client_secret": c.ClientSecret, "api_key": c.APIKey, "username": c.Username,
		"password": c.Password, "api_key_header": c.APIKeyHeader, "token_field": c.TokenField,
		"expires_in_field": c.ExpiresInField, "token_type_field": c.TokenTypeField,
	}
	for field, s := range strs {
		if len(s) > maxStringLen {
			return fieldErr(field, "longer than %d bytes", maxStringLen)
		}
	}
	if len(c.TokenURL) > maxTokenURL {
		return fieldErr("token_url", "longer than %d bytes", maxTokenURL)
	}
	if len(c.CACert) > maxCACertLen {
		return fieldErr("ca_cert", "longer than %d bytes", maxCACertLen)
	}
	return nil
}

func validateTokenURL(raw string) error {
	if raw == "" {
		return fieldErr("token_url", "required (the preset has no fixed token URL; or give issuer to discover it)")
	}
	return validateEndpoint("token_url", raw)
}

// validateDeviceAuthURL: optional (only the device flow's consent uses
// it), and held to the token URL's rules when given: it receives the
// client's credentials too (RFC 8628 3.1).
func validateDeviceAuthURL(raw string) error {
	switch {
	case raw == "":
		return nil
	case len(raw) > maxTokenURL:
		return fieldErr("device_auth_url", "longer than %d bytes", maxTokenURL)
	}
	return validateEndpoint("device_auth_url", raw)
}

// validateEndpoint holds every URL the plugin sends a request to
// (token_url, device_auth_url, issuer) to one rule.
func validateEndpoint(field, raw string) error {
	u, err := url.Parse(raw)
	var perr *url.Error
	if errors.As(err, &perr) {
		// The inner error names the bad part ("invalid port \":abc\" after
		// host"), not the whole URL as perr.Error() would.
		return fieldErr(field, "does not parse: %s", clip(perr.Err.Error()))
	}
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fieldErr(field, "must be an absolute URL such as https://auth.example.com/oauth/token")
	}
	// url.Parse accepts any digits after the colon; the dialer would fail
	// on every grant instead of at write.
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fieldErr(field, "port %s is not in 1-65535", quote(p))
		}
	}
	if u.User != nil {
		return fieldErr(field, "must not carry credentials; use client_id/client_secret")
	}
	if err := asciiHost(field, u.Hostname()); err != nil {
		return err
	}
	if u.Fragment != "" {
		return fieldErr(field, "must not have a fragment")
	}
	// A literal IP the dial guard would refuse fails here, at write, not at
	// every grant; a name is judged at dial time only, on what it resolves
	// to then (internal/oauth/dialguard.go).
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil {
		if class := oauth.RefusedClass(ip); class != "" {
			return fieldErr(field, "host %s is %s; the plugin never sends credentials there", quote(ip.String()), class)
		}
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fieldErr(field, "must be https (http is allowed only for loopback hosts)")
	default:
		return fieldErr(field, "scheme %s is not https", quote(u.Scheme))
	}
}

// asciiHost refuses a host name that is not ASCII. The transport dials
// its IDNA form (xn--...), which neither reads like what was written nor
// is what Unicode case rules make of it ("İdp" lower-cases to "idp"): the
// operator writes, and every rule compares, the name that is dialled.
func asciiHost(field, host string) error {
	if oauth.IsASCII(host) {
		return nil
	}
	if a, err := idna.Lookup.ToASCII(host); err == nil {
		return fieldErr(field, "host %s is not ASCII: write the name that is dialled, %s (IDNA, RFC 5891)", quote(host), quote(a))
	}
	return fieldErr(field, "host %s is not ASCII nor a valid internationalised name (RFC 5891)", quote(host))
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateCredentials asks for what each grant sends.
func validateCredentials(c *vendorConfig) error {
	need := grantNeeds[c.GrantType]
	switch {
	case c.GrantType == grantJWTBearer && c.AssertionSource != sourceKey:
		need = nil // the assertion's iss is the mount's issuer or Vault's, not client_id
	case c.GrantType == grantJWTBearer && c.AssertionIssuer != "" && c.ClientSecret == "":
		need = nil // iss is assertion_issuer, and no client authenticates
	}
	switch {
	case c.GrantType == grantLogin:
	case (c.ClientAuth == authBody || c.ClientAuth == authBasic) && publicClientGrants[c.GrantType]:
		// A public client of the password grant sends no secret (RFC 6749 4.3, 2.1).
	default:
		need = append(need, clientAuthNeeds[c.ClientAuth]...)
	}
	have := map[string]string{
		"client_id": c.ClientID, "client_secret": c.ClientSecret, "username": c.Username,
		"password": c.Password, "api_key": c.APIKey,
		"tls_client_cert": c.TLSClientCert, "tls_client_key": c.TLSClientKey,
		"subject": c.Subject, "assertion_issuer": c.AssertionIssuer,
		"account_id": c.AccountID, "subject_config": c.SubjectConfig, "audience": c.Audience,
	}
	// The preset's own needs first: they say what the vendor calls the
	// field (Google's assertion_issuer, where client_id would mislead).
	if p, ok := presets[c.Preset]; ok {
		for _, field := range p.Requires {
			if have[field] == "" {
				return fieldErr(field, "required with preset %s (%s asks for it on every token request)", c.Preset, p.Vendor)
			}
		}
	}
	for _, field := range need {
		if have[field] == "" {
			return fieldErr(field, "required for grant_type %s with client_auth %s%s", c.GrantType, c.ClientAuth, presetSuffix(c.Preset))
		}
	}
	return nil
}

// grantNeeds: what each grant sends beyond client authentication.
var grantNeeds = map[string][]string{
	grantPassword:          {"client_id", "username", "password"},
	grantLogin:             {"username", "password"},
	grantClientCredentials: {"client_id"},
	grantJWTBearer:         {"client_id"}, // the assertion's iss
	grantAccountCreds:      {"client_id", "account_id"},
	// client_id is optional: Databricks' federation policy of a service
	// principal wants it, an account-wide policy and Google STS do not.
	// The subject token's source is validateSubjectSource's.
	grantTokenExchange:     {},
	grantAuthorizationCode: {"client_id"},
}

// publicClientGrants may run with body or basic client authentication
// and no client_secret: a public client (RFC 6749 2.1) of the password
// grant, jwt_bearer (RFC 7523 2.1: client authentication optional) and
// token_exchange (RFC 8693 2.1: the same).
var publicClientGrants = map[string]bool{grantPassword: true, grantJWTBearer: true, grantTokenExchange: true}

// clientAuthNeeds: what each client_auth cannot do without, beyond
// client_id. private_key_jwt generates its key when none is written. A
// password grant with body or basic may be a public client.
var clientAuthNeeds = map[string][]string{
	authBody:            {"client_secret"},
	authBasic:           {"client_secret"},
	authClientSecretJWT: {"client_secret"},
	authTLSClient:       {"tls_client_cert", "tls_client_key"},
}

func presetSuffix(p string) string {
	if p == "" {
		return ""
	}
	return " with preset " + p
}

func validateDurations(c *vendorConfig) error {
	durs := []struct {
		field string
		d     time.Duration
		max   time.Duration
		limit string
	}{
		{"default_ttl", c.DefaultTTL, maxDurationIn, "10 years"},
		{"refresh_before", c.RefreshBefore, maxDurationIn, "10 years"},
		{"max_ttl", c.MaxTTL, maxDurationIn, "10 years"},
		{"timeout", c.Timeout, maxTimeout, maxTimeout.String() + " (Vault's default request limit is 90s)"},
	}
	for _, x := range durs {
		if x.d < 0 {
			return fieldErr(x.field, "must not be negative")
		}
		if x.d > x.max {
			return fieldErr(x.field, "must not exceed %s", x.limit)
		}
	}
	if c.DefaultTTL > 0 && c.DefaultTTL < minLifetime {
		return fieldErr("default_ttl", "must be at least %s", minLifetime)
	}
	return nil
}

// validateHeaderName never quotes a name it refuses: a mis-pasted pair
// such as "Authorization: Bearer <token>==" is split by Vault at its first
// "=", so the "name" holds the credential.
func validateHeaderName(field, name string) error {
	if len(name) > 256 {
		return fieldErr(field, "a header name is longer than 256 bytes")
	}
	if !httpTokenRe.MatchString(name) {
		return fieldErr(field, "a name of %d bytes is not a valid HTTP header name (RFC 9110 token: letters, digits and !#$%%&'*+.^_`|~-); give each header as name=value", len(name))
	}
	return nil
}

// engineHeaders are the headers another field makes the engine set, by
// canonical name, with that field: a header of the same name would be
// overwritten on the wire without a word.
func engineHeaders(c *vendorConfig) map[string]string {
	h := map[string]string{}
	if c.ClientAuth == authBasic {
		h["Authorization"] = "client_auth=basic" // RFC 6749 2.3.1
	}
	return h
}

// validateAPIKey: the key travels as a header value, so it must be one; its
// header must be one the engine leaves alone. The key is write-only: no
// message quotes it.
func validateAPIKey(c *vendorConfig) error {
	if hasCTL(c.APIKey) {
		return fieldErr("api_key", "has a control character, which an HTTP header value cannot carry (RFC 9110 5.5)")
	}
	if err := validateHeaderName("api_key_header", c.APIKeyHeader); err != nil {
		return err
	}
	canon := http.CanonicalHeaderKey(c.APIKeyHeader)
	if reservedHeaders[canon] {
		return fieldErr("api_key_header", "%s is set by the engine or frames the request", quote(c.APIKeyHeader))
	}
	if by, ok := engineHeaders(c)[canon]; ok {
		return fieldErr("api_key_header", "%s is set by %s", quote(c.APIKeyHeader), by)
	}
	return nil
}

// validateHeaders: names are RFC 9110 tokens the engine does not set; values
// are never quoted (an operator may put a partner key in one).
// credentialHeaders carry credentials: a readable field must not hold
// them; secret_headers (write-only) does.
var credentialHeaders = map[string]bool{"Authorization": true, "Proxy-Authorization": true, "Cookie": true}

// validateHeaders checks headers and secret_headers, and that no header is
// given twice. No message quotes a header value.
func validateHeaders(c *vendorConfig) error {
	if err := validateHeaderMap("headers", c.Headers, c); err != nil {
		return err
	}
	if err := validateHeaderMap("secret_headers", c.SecretHeaders, c); err != nil {
		return err
	}
	for name := range c.SecretHeaders {
		for plain := range c.Headers {
			if strings.EqualFold(name, plain) {
				return fieldErr("secret_headers", "%s is also in headers; give it once", quote(name))
			}
		}
	}
	return nil
}

// sameHeaderTwice: header names are case-insensitive (RFC 9110 5.1), so
// "X-Key" and "x-key" in one map are one header, and which value goes on
// the wire would depend on map order, changing from grant to grant.
func sameHeaderTwice(field string, h map[string]string) error {
	names := sortedKeys(h)
	seen := make(map[string]string, len(names))
	for _, name := range names {
		canon := http.CanonicalHeaderKey(name)
		if first, ok := seen[canon]; ok {
			return fieldErr(field, "%s and %s are one header (names are case-insensitive, RFC 9110 5.1); give it once", quote(first), quote(name))
		}
		seen[canon] = name
	}
	return nil
}

func validateHeaderMap(field string, h map[string]string, c *vendorConfig) error {
	if len(h) > maxPairs {
		return fieldErr(field, "more than %d headers", maxPairs)
	}
	secret := field == "secret_headers"
	engine := engineHeaders(c)
	for name, value := range h {
		if err := validateHeaderName(field, name); err != nil {
			return err
		}
		canon := http.CanonicalHeaderKey(name)
		switch {
		case reservedHeaders[canon]:
			return fieldErr(field, "%s is set by the engine (use body_format for Content-Type)", quote(name))
		case engine[canon] != "":
			return fieldErr(field, "%s is set by %s", quote(name), engine[canon])
		case strings.EqualFold(name, c.APIKeyHeader) && (!secret || c.APIKey != ""):
			return fieldErr(field, "%s is api_key_header: the key goes in api_key (write-only), which sends it there", quote(name))
		case !secret && credentialHeaders[canon]:
			return fieldErr(field, "%s carries credentials: put it in secret_headers (write-only)", quote(name))
		case hasCTL(value):
			return fieldErr(field, "value of %s has a control character (RFC 9110 5.5)", quote(name))
		case len(value) > maxStringLen:
			return fieldErr(field, "value of %s is longer than %d bytes", quote(name), maxStringLen)
		}
	}
	// After the names are known to be valid: a refused name is never quoted.
	return sameHeaderTwice(field, h)
}

// validateParams checks params and secret_params, and that no parameter
// is given twice.
func validateParams(c *vendorConfig) error {
	if err := validateParamMap("params", c.Params); err != nil {
		return err
	}
	if err := validateParamMap("secret_params", c.SecretParams); err != nil {
		return err
	}
	for name := range c.SecretParams {
		if _, ok := c.Params[name]; ok {
			return fieldErr("secret_params", "%s is also in params; give it once", quote(name))
		}
	}
	return nil
}

func validateParamMap(field string, p map[string]string) error {
	if len(p) > maxPairs {
		return fieldErr(field, "more than %d parameters", maxPairs)
	}
	for name, value := range p {
		// Not quoted, as for header names: a mis-pasted pair puts the
		// credential in the name.
		if !paramNameRe.MatchString(name) {
			return fieldErr(field, "a name of %d bytes is not a valid parameter name (letters, digits and ._~-[], at most 256 bytes); give each parameter as name=value", len(name))
		}
		if reservedParams[name] {
			return fieldErr(field, "%s is set from its own field; set that field instead", quote(name))
		}
		if len(value) > maxStringLen {
			return fieldErr(field, "value of %s is longer than %d bytes", quote(name), maxStringLen)
		}
	}
	return nil
}

func validateScopes(scopes []string) error {
	if len(scopes) > 64 {
		return fieldErr("scopes", "more than 64 scopes")
	}
	for _, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") || len(s) > 256 {
			return fieldErr("scopes", "%s is not a valid scope (RFC 6749 3.3)", quote(s))
		}
	}
	return nil
}

func validateResponseFields(c *vendorConfig) error {
	for field, v := range map[string]string{"token_field": c.TokenField, "expires_in_field": c.ExpiresInField, "token_type_field": c.TokenTypeField} {
		if strings.TrimSpace(v) != v || strings.ContainsAny(v, "\r\n\x00") {
			return fieldErr(field, "%s has whitespace or control characters", quote(v))
		}
	}
	return nil
}

// validateReadablePEM holds every PEM field a read shows to CERTIFICATE
// blocks at every write, whatever client_auth is: certificate is used
// only by private_key_jwt, but a key pasted with it under any other
// client_auth would be stored as written and shown by every read.
func validateReadablePEM(c *vendorConfig) error {
	for _, f := range []struct{ field, text string }{
		{"ca_cert", c.CACert}, {"certificate", c.Certificate}, {"tls_client_cert", c.TLSClientCert},
	} {
		if f.text == "" {
			continue
		}
		if _, err := oauth.CertificatesOnly(f.text); err != nil {
			return fieldErr(f.field, "%s", err.Error())
		}
	}
	return nil
}

func validateCACert(pemText string) error {
	if pemText == "" {
		return nil
	}
	if _, err := oauth.CertificatesOnly(pemText); err != nil {
		return fieldErr("ca_cert", "%s", err.Error())
	}
	return nil
}
